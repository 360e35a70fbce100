from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import LedgerKind, NotificationKind, ReceiptKind, RefundMethod, RefundStatus
from tortoise.fields.base import OnDelete
from tortoise import fields


class EnumAlterField(ops.AlterField):
    """The new ledger kind, notification kinds and receipt kind: the columns stay varchars of
    the same length, so only the ORM's view changes (no table rebuild on SQLite)."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0017_reconciliation')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Refund',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('payment', fields.ForeignKeyField('models.Payment', source_field='payment_id', db_constraint=True, to_field='id', related_name='refunds', on_delete=OnDelete.RESTRICT)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', null=True, db_constraint=True, to_field='id', related_name='refunds', on_delete=OnDelete.SET_NULL)),
                ('amount', fields.IntField()),
                ('method', fields.CharEnumField(description='REVERSAL: reversal\nB2C: b2c', enum_type=RefundMethod, max_length=16)),
                ('status', fields.CharEnumField(default=RefundStatus.REQUESTED, description='REQUESTED: requested\nAPPROVED: approved\nSENT: sent\nREFUNDED: refunded\nFAILED: failed\nUNKNOWN: unknown\nREJECTED: rejected', enum_type=RefundStatus, max_length=16)),
                ('reason', fields.CharField(max_length=200)),
                ('phone', fields.CharField(max_length=16)),
                ('originator_conversation_id', fields.CharField(unique=True, max_length=64)),
                ('daraja_originator_id', fields.CharField(null=True, max_length=64)),
                ('conversation_id', fields.CharField(null=True, max_length=64)),
                ('receipt', fields.CharField(null=True, max_length=20)),
                ('result_code', fields.CharField(null=True, max_length=20)),
                ('result_desc', fields.CharField(null=True, max_length=255)),
                ('error', fields.CharField(null=True, max_length=300)),
                ('requested_by', fields.ForeignKeyField('models.Person', source_field='requested_by_id', db_constraint=True, to_field='id', related_name='refunds_requested', on_delete=OnDelete.RESTRICT)),
                ('decided_by', fields.ForeignKeyField('models.Person', source_field='decided_by_id', null=True, db_constraint=True, to_field='id', related_name='refunds_decided', on_delete=OnDelete.RESTRICT)),
                ('entry', fields.OneToOneField('models.LedgerEntry', source_field='entry_id', null=True, db_constraint=True, to_field='id', related_name='refund', on_delete=OnDelete.RESTRICT)),
                ('withdrawn', fields.IntField(default=0)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('checked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'refund', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        EnumAlterField(
            model_name='LedgerEntry',
            name='kind',
            field=fields.CharEnumField(description='CHARGE: charge\nPAYMENT: payment\nADJUSTMENT: adjustment\nWAGE: wage\nDEDUCTION: deduction\nPAYOUT: payout\nRECORDED: recorded\nREFUND: refund', enum_type=LedgerKind, max_length=16),
        ),
        EnumAlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='INVITE_LINK: invite_link\nINVITATION: invitation\nANSWER: answer\nREMINDER: reminder\nNUDGE: nudge\nBRIEFING: briefing\nEVENT_CHANGED: event_changed\nEVENT_CANCELLED: event_cancelled\nPAYMENT_REQUEST: payment_request\nPAYMENT_STATUS: payment_status\nPAYMENT_BATCH: payment_batch\nPAYMENT_RECEIPT: payment_receipt\nPAYMENT_FAILED: payment_failed\nPAYMENT_ALERT: payment_alert\nMANAGER_ALERT: manager_alert\nCHAT_UNREACHABLE: chat_unreachable\nACCOUNT_NOTICE: account_notice\nCREW_REMOVED: crew_removed\nJOB_FAILED: job_failed\nANSWERS_TALLY: answers_tally\nANSWERS_DIGEST: answers_digest\nPAY_SHEET: pay_sheet\nPAYROLL_APPROVAL: payroll_approval\nPAYROLL_STOPPED: payroll_stopped\nPAYSLIP: payslip\nRECONCILIATION_ALERT: reconciliation_alert\nPAYMENT_RECORDED: payment_recorded\nPAYMENT_UNRECORDED: payment_unrecorded\nINVOICE: invoice\nREFUND: refund\nREFUND_APPROVAL: refund_approval\nREFUND_NOTICE: refund_notice\nREFUND_OUTCOME: refund_outcome', enum_type=NotificationKind, max_length=40),
        ),
        EnumAlterField(
            model_name='Receipt',
            name='kind',
            field=fields.CharEnumField(description='PAYMENT: payment\nPAYOUT: payout\nRECORDED: recorded\nREFUND: refund', enum_type=ReceiptKind, max_length=16),
        ),
        ops.AddField(
            model_name='Receipt',
            name='refund',
            field=fields.OneToOneField('models.Refund', source_field='refund_id', null=True, db_constraint=True, to_field='id', related_name='document', on_delete=OnDelete.RESTRICT),
        ),
    ]
