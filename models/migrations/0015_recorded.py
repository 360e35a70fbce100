from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import AuditAction, LedgerKind, NotificationKind, PaymentMethod
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class EnumAlterField(ops.AlterField):
    """The new ledger kind, audit actions and notification kind: the columns stay varchar of
    the same length, so only the ORM's view changes (no table rebuild on SQLite; as in 0014)."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0014_outbox_kinds')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RecordedPayment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='recorded_payments', on_delete=OnDelete.RESTRICT)),
                ('amount', fields.IntField()),
                ('method', fields.CharEnumField(description='CASH: cash\nBANK: bank\nAIRTEL: airtel\nCHEQUE: cheque', enum_type=PaymentMethod, max_length=16)),
                ('reference', fields.CharField(max_length=60)),
                ('reference_key', fields.CharField(null=True, max_length=60)),
                ('recorded_by', fields.ForeignKeyField('models.Person', source_field='recorded_by_id', db_constraint=True, to_field='id', related_name='payments_recorded', on_delete=OnDelete.RESTRICT)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('entry', fields.OneToOneField('models.LedgerEntry', source_field='entry_id', db_constraint=True, to_field='id', related_name='recorded_payment', on_delete=OnDelete.RESTRICT)),
                ('undone_by', fields.ForeignKeyField('models.Person', source_field='undone_by_id', null=True, db_constraint=True, to_field='id', related_name='payments_unrecorded', on_delete=OnDelete.RESTRICT)),
                ('undone_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('undo_reason', fields.CharField(null=True, max_length=200)),
                ('undo_entry', fields.OneToOneField('models.LedgerEntry', source_field='undo_entry_id', null=True, db_constraint=True, to_field='id', related_name='unrecorded_payment', on_delete=OnDelete.RESTRICT)),
            ],
            options={'table': 'recorded_payment', 'app': 'models', 'unique_together': (('method', 'reference_key'),), 'indexes': [Index(fields=['person_id', 'recorded_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        EnumAlterField(
            model_name='AuditLog',
            name='action',
            field=fields.CharEnumField(description='ASSIGNMENT_BRIEFING_READ: assignment.briefing_read\nASSIGNMENT_CANCELLED: assignment.cancelled\nASSIGNMENT_CONFIRMED: assignment.confirmed\nASSIGNMENT_DECLINED: assignment.declined\nASSIGNMENT_INVITED: assignment.invited\nASSIGNMENT_REASON: assignment.reason\nASSIGNMENT_REINVITED: assignment.reinvited\nEVENT_BRIEFED: event.briefed\nEVENT_CANCELLED: event.cancelled\nEVENT_COMPLETED: event.completed\nEVENT_CREATED: event.created\nEVENT_EDITED: event.edited\nEVENT_REMINDED: event.reminded\nLEDGER_CHARGE: ledger.charge\nLEDGER_UNCHARGE: ledger.uncharge\nLEDGER_RECORDED: ledger.recorded\nLEDGER_UNRECORDED: ledger.unrecorded\nOUTBOX_RESENT: outbox.resent\nPAYMENT_CANCELLED: payment.cancelled\nPAYMENT_COMPLETED: payment.completed\nPAYMENT_FAILED: payment.failed\nPAYMENT_FLAG_RESOLVED: payment.flag_resolved\nPAYMENT_INITIATED: payment.initiated\nPAYMENT_PENDING: payment.pending\nPAYMENT_RECEIPT: payment.receipt\nPAYMENT_REQUESTED: payment.requested\nPAYMENT_TIMEOUT: payment.timeout\nPAYMENT_UNKNOWN: payment.unknown\nPAYMENT_BATCH_RESEND: payment_batch.resend\nPAYMENT_BATCH_SEND_ANYWAY: payment_batch.send_anyway\nPAYMENT_BATCH_STARTED: payment_batch.started\nPAYROLL_APPROVED: payroll.approved\nPAYROLL_BUILT: payroll.built\nPAYROLL_LINE_CHANGED: payroll.line_changed\nPAYROLL_REOPENED: payroll.reopened\nPAYROLL_SUBMITTED: payroll.submitted\nPAYROLL_SUPERSEDED: payroll.superseded\nPAYROLL_PAY_STARTED: payroll.pay_started\nPAYROLL_STOPPED: payroll.stopped\nPAYROLL_PAID: payroll.paid\nPAYOUT_PAID: payout.paid\nPAYOUT_FAILED: payout.failed\nPAYOUT_UNKNOWN: payout.unknown\nPERSON_ACCESS_CHANGED: person.access_changed\nPERSON_ADDED: person.added\nPERSON_CHAT_REACHABLE: person.chat_reachable\nPERSON_CHAT_UNREACHABLE: person.chat_unreachable\nPERSON_DEACTIVATED: person.deactivated\nPERSON_EDITED: person.edited\nPERSON_LINK_ISSUED: person.link_issued\nPERSON_LINK_REFUSED: person.link_refused\nPERSON_LINKED: person.linked\nPERSON_REACTIVATED: person.reactivated\nRATE_SET: rate.set\nRATE_CLEARED: rate.cleared', enum_type=AuditAction, max_length=60),
        ),
        EnumAlterField(
            model_name='LedgerEntry',
            name='kind',
            field=fields.CharEnumField(description='CHARGE: charge\nPAYMENT: payment\nADJUSTMENT: adjustment\nWAGE: wage\nDEDUCTION: deduction\nPAYOUT: payout\nRECORDED: recorded', enum_type=LedgerKind, max_length=16),
        ),
        EnumAlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='INVITE_LINK: invite_link\nINVITATION: invitation\nANSWER: answer\nREMINDER: reminder\nNUDGE: nudge\nBRIEFING: briefing\nEVENT_CHANGED: event_changed\nEVENT_CANCELLED: event_cancelled\nPAYMENT_REQUEST: payment_request\nPAYMENT_STATUS: payment_status\nPAYMENT_BATCH: payment_batch\nPAYMENT_RECEIPT: payment_receipt\nPAYMENT_FAILED: payment_failed\nPAYMENT_ALERT: payment_alert\nMANAGER_ALERT: manager_alert\nCHAT_UNREACHABLE: chat_unreachable\nACCOUNT_NOTICE: account_notice\nCREW_REMOVED: crew_removed\nJOB_FAILED: job_failed\nANSWERS_TALLY: answers_tally\nANSWERS_DIGEST: answers_digest\nPAY_SHEET: pay_sheet\nPAYROLL_APPROVAL: payroll_approval\nPAYROLL_STOPPED: payroll_stopped\nPAYSLIP: payslip\nPAYMENT_RECORDED: payment_recorded', enum_type=NotificationKind, max_length=40),
        ),
    ]
