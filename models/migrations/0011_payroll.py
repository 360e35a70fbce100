from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.enums import AuditAction, LedgerKind, NotificationKind, PaySheetStatus, PayoutStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class EnumAlterField(ops.AlterField):
    """The enum columns stay varchar of the same length: only their descriptions (the
    members) change, so nothing is rebuilt (as in 0008)."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0010_telegram_budget')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DayRate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('scope', fields.CharField(unique=True, max_length=80)),
                ('role', fields.CharField(max_length=60)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', null=True, db_constraint=True, to_field='id', related_name='day_rates', on_delete=OnDelete.CASCADE)),
                ('amount', fields.IntField()),
                ('set_by', fields.ForeignKeyField('models.Person', source_field='set_by_id', null=True, db_constraint=True, to_field='id', related_name='rates_set', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'day_rate', 'app': 'models', 'pk_attr': 'id', 'table_description': "A day rate for a role, or a person's own rate for a role (which wins)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PaySheet',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='pay_sheets', on_delete=OnDelete.RESTRICT)),
                ('version', fields.IntField()),
                ('status', fields.CharEnumField(default=PaySheetStatus.DRAFT, description='DRAFT: draft\nSUBMITTED: submitted\nAPPROVED: approved\nPAYING: paying\nPAID: paid\nSTOPPED: stopped\nSUPERSEDED: superseded', enum_type=PaySheetStatus, max_length=16)),
                ('supersedes', fields.ForeignKeyField('models.PaySheet', source_field='supersedes_id', null=True, db_constraint=True, to_field='id', related_name='superseded_by', on_delete=OnDelete.NO_ACTION)),
                ('prepared_by', fields.ForeignKeyField('models.Person', source_field='prepared_by_id', db_constraint=True, to_field='id', related_name='sheets_prepared', on_delete=OnDelete.RESTRICT)),
                ('submitted_by', fields.ForeignKeyField('models.Person', source_field='submitted_by_id', null=True, db_constraint=True, to_field='id', related_name='sheets_submitted', on_delete=OnDelete.RESTRICT)),
                ('submitted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('approved_by', fields.ForeignKeyField('models.Person', source_field='approved_by_id', null=True, db_constraint=True, to_field='id', related_name='sheets_approved', on_delete=OnDelete.RESTRICT)),
                ('approved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'pay_sheet', 'app': 'models', 'unique_together': (('event', 'version'),), 'indexes': [Index(fields=['status', 'event_id'])], 'pk_attr': 'id', 'table_description': "One version of an event's pay sheet. Approved versions never change: a change makes"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PayLine',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sheet', fields.ForeignKeyField('models.PaySheet', source_field='sheet_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='pay_lines', on_delete=OnDelete.RESTRICT)),
                ('role', fields.CharField(max_length=60)),
                ('rate', fields.IntField(null=True)),
                ('own_rate', fields.BooleanField(default=False)),
                ('adjustments', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('owed', fields.BigIntField(default=0)),
                ('deduction', fields.IntField(default=0)),
                ('left_out', fields.BooleanField(default=False)),
                ('gross', fields.IntField(default=0)),
                ('net', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'pay_line', 'app': 'models', 'unique_together': (('sheet', 'person'),), 'pk_attr': 'id', 'table_description': 'One confirmed crew member on one sheet version. `gross` and `net` are kept in step'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Payout',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sheet', fields.ForeignKeyField('models.PaySheet', source_field='sheet_id', db_constraint=True, to_field='id', related_name='payouts', on_delete=OnDelete.RESTRICT)),
                ('line', fields.ForeignKeyField('models.PayLine', source_field='line_id', db_constraint=True, to_field='id', related_name='payouts', on_delete=OnDelete.RESTRICT)),
                ('attempt', fields.IntField()),
                ('status', fields.CharEnumField(default=PayoutStatus.QUEUED, description='QUEUED: queued\nSENT: sent\nPAID: paid\nFAILED: failed\nUNKNOWN: unknown\nCANCELLED: cancelled', enum_type=PayoutStatus, max_length=16)),
                ('originator_conversation_id', fields.CharField(unique=True, max_length=64)),
                ('amount', fields.IntField()),
                ('phone', fields.CharField(max_length=16)),
                ('conversation_id', fields.CharField(null=True, max_length=64)),
                ('transaction_id', fields.CharField(null=True, unique=True, max_length=20)),
                ('result_code', fields.CharField(null=True, max_length=20)),
                ('result_desc', fields.CharField(null=True, max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'payout', 'app': 'models', 'unique_together': (('line', 'attempt'),), 'indexes': [Index(fields=['status', 'sheet_id'])], 'pk_attr': 'id', 'table_description': 'One B2C attempt to pay one line. Ours is the OriginatorConversationID, written before'},
            bases=['Model'],
        ),
        EnumAlterField(
            model_name='AuditLog',
            name='action',
            field=fields.CharEnumField(description='ASSIGNMENT_BRIEFING_READ: assignment.briefing_read\nASSIGNMENT_CANCELLED: assignment.cancelled\nASSIGNMENT_CONFIRMED: assignment.confirmed\nASSIGNMENT_DECLINED: assignment.declined\nASSIGNMENT_INVITED: assignment.invited\nASSIGNMENT_REASON: assignment.reason\nASSIGNMENT_REINVITED: assignment.reinvited\nEVENT_BRIEFED: event.briefed\nEVENT_CANCELLED: event.cancelled\nEVENT_COMPLETED: event.completed\nEVENT_CREATED: event.created\nEVENT_EDITED: event.edited\nEVENT_REMINDED: event.reminded\nLEDGER_CHARGE: ledger.charge\nLEDGER_UNCHARGE: ledger.uncharge\nOUTBOX_RESENT: outbox.resent\nPAYMENT_CANCELLED: payment.cancelled\nPAYMENT_COMPLETED: payment.completed\nPAYMENT_FAILED: payment.failed\nPAYMENT_FLAG_RESOLVED: payment.flag_resolved\nPAYMENT_INITIATED: payment.initiated\nPAYMENT_PENDING: payment.pending\nPAYMENT_RECEIPT: payment.receipt\nPAYMENT_REQUESTED: payment.requested\nPAYMENT_TIMEOUT: payment.timeout\nPAYMENT_UNKNOWN: payment.unknown\nPAYMENT_BATCH_RESEND: payment_batch.resend\nPAYMENT_BATCH_SEND_ANYWAY: payment_batch.send_anyway\nPAYMENT_BATCH_STARTED: payment_batch.started\nPAYROLL_APPROVED: payroll.approved\nPAYROLL_BUILT: payroll.built\nPAYROLL_LINE_CHANGED: payroll.line_changed\nPAYROLL_REOPENED: payroll.reopened\nPAYROLL_SUBMITTED: payroll.submitted\nPAYROLL_SUPERSEDED: payroll.superseded\nPERSON_ACCESS_CHANGED: person.access_changed\nPERSON_ADDED: person.added\nPERSON_CHAT_REACHABLE: person.chat_reachable\nPERSON_CHAT_UNREACHABLE: person.chat_unreachable\nPERSON_DEACTIVATED: person.deactivated\nPERSON_EDITED: person.edited\nPERSON_LINK_ISSUED: person.link_issued\nPERSON_LINK_REFUSED: person.link_refused\nPERSON_LINKED: person.linked\nPERSON_REACTIVATED: person.reactivated\nRATE_SET: rate.set\nRATE_CLEARED: rate.cleared', enum_type=AuditAction, max_length=60),
        ),
        EnumAlterField(
            model_name='LedgerEntry',
            name='kind',
            field=fields.CharEnumField(description='CHARGE: charge\nPAYMENT: payment\nADJUSTMENT: adjustment\nWAGE: wage\nDEDUCTION: deduction\nPAYOUT: payout', enum_type=LedgerKind, max_length=16),
        ),
        ops.AddField(
            model_name='LedgerEntry',
            name='pay_line',
            field=fields.ForeignKeyField('models.PayLine', source_field='pay_line_id', null=True, db_constraint=True, to_field='id', related_name='ledger_entries', on_delete=OnDelete.RESTRICT),
        ),
        EnumAlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='INVITE_LINK: invite_link\nINVITATION: invitation\nANSWER: answer\nREMINDER: reminder\nNUDGE: nudge\nBRIEFING: briefing\nEVENT_CHANGED: event_changed\nEVENT_CANCELLED: event_cancelled\nPAYMENT_REQUEST: payment_request\nPAYMENT_STATUS: payment_status\nPAYMENT_BATCH: payment_batch\nPAYMENT_RECEIPT: payment_receipt\nPAYMENT_FAILED: payment_failed\nPAYMENT_ALERT: payment_alert\nMANAGER_ALERT: manager_alert\nCHAT_UNREACHABLE: chat_unreachable\nACCOUNT_NOTICE: account_notice\nCREW_REMOVED: crew_removed\nJOB_FAILED: job_failed\nPAY_SHEET: pay_sheet\nPAYROLL_APPROVAL: payroll_approval', enum_type=NotificationKind, max_length=40),
        ),
    ]
