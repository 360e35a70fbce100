from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import AuditAction, CallbackStatus, NotificationKind, PaySheetStatus
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
    dependencies = [('models', '0011_payroll')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OperatorResult',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product', fields.CharField(max_length=24)),
                ('timeout', fields.BooleanField(default=False)),
                ('body', fields.TextField(unique=False)),
                ('remote_ip', fields.CharField(null=True, max_length=64)),
                ('status', fields.CharEnumField(default=CallbackStatus.RECEIVED, description='RECEIVED: received\nAPPLIED: applied\nUNMATCHED: unmatched\nDUPLICATE: duplicate\nFLAGGED: flagged', enum_type=CallbackStatus, max_length=16)),
                ('note', fields.CharField(null=True, max_length=300)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('applied_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'daraja_result', 'app': 'models', 'indexes': [Index(fields=['status', 'received_at'])], 'pk_attr': 'id', 'table_description': 'A result (or QueueTimeOut) post of an operator API, stored raw before Daraja hears'},
            bases=['Model'],
        ),
        EnumAlterField(
            model_name='AuditLog',
            name='action',
            field=fields.CharEnumField(description='ASSIGNMENT_BRIEFING_READ: assignment.briefing_read\nASSIGNMENT_CANCELLED: assignment.cancelled\nASSIGNMENT_CONFIRMED: assignment.confirmed\nASSIGNMENT_DECLINED: assignment.declined\nASSIGNMENT_INVITED: assignment.invited\nASSIGNMENT_REASON: assignment.reason\nASSIGNMENT_REINVITED: assignment.reinvited\nEVENT_BRIEFED: event.briefed\nEVENT_CANCELLED: event.cancelled\nEVENT_COMPLETED: event.completed\nEVENT_CREATED: event.created\nEVENT_EDITED: event.edited\nEVENT_REMINDED: event.reminded\nLEDGER_CHARGE: ledger.charge\nLEDGER_UNCHARGE: ledger.uncharge\nOUTBOX_RESENT: outbox.resent\nPAYMENT_CANCELLED: payment.cancelled\nPAYMENT_COMPLETED: payment.completed\nPAYMENT_FAILED: payment.failed\nPAYMENT_FLAG_RESOLVED: payment.flag_resolved\nPAYMENT_INITIATED: payment.initiated\nPAYMENT_PENDING: payment.pending\nPAYMENT_RECEIPT: payment.receipt\nPAYMENT_REQUESTED: payment.requested\nPAYMENT_TIMEOUT: payment.timeout\nPAYMENT_UNKNOWN: payment.unknown\nPAYMENT_BATCH_RESEND: payment_batch.resend\nPAYMENT_BATCH_SEND_ANYWAY: payment_batch.send_anyway\nPAYMENT_BATCH_STARTED: payment_batch.started\nPAYROLL_APPROVED: payroll.approved\nPAYROLL_BUILT: payroll.built\nPAYROLL_LINE_CHANGED: payroll.line_changed\nPAYROLL_REOPENED: payroll.reopened\nPAYROLL_SUBMITTED: payroll.submitted\nPAYROLL_SUPERSEDED: payroll.superseded\nPAYROLL_PAY_STARTED: payroll.pay_started\nPAYROLL_STOPPED: payroll.stopped\nPAYROLL_PAID: payroll.paid\nPAYOUT_PAID: payout.paid\nPAYOUT_FAILED: payout.failed\nPAYOUT_UNKNOWN: payout.unknown\nPERSON_ACCESS_CHANGED: person.access_changed\nPERSON_ADDED: person.added\nPERSON_CHAT_REACHABLE: person.chat_reachable\nPERSON_CHAT_UNREACHABLE: person.chat_unreachable\nPERSON_DEACTIVATED: person.deactivated\nPERSON_EDITED: person.edited\nPERSON_LINK_ISSUED: person.link_issued\nPERSON_LINK_REFUSED: person.link_refused\nPERSON_LINKED: person.linked\nPERSON_REACTIVATED: person.reactivated\nRATE_SET: rate.set\nRATE_CLEARED: rate.cleared', enum_type=AuditAction, max_length=60),
        ),
        ops.AddField(
            model_name='LedgerEntry',
            name='payout',
            field=fields.OneToOneField('models.Payout', source_field='payout_id', null=True, db_constraint=True, to_field='id', related_name='ledger_entry', on_delete=OnDelete.RESTRICT),
        ),
        EnumAlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='INVITE_LINK: invite_link\nINVITATION: invitation\nANSWER: answer\nREMINDER: reminder\nNUDGE: nudge\nBRIEFING: briefing\nEVENT_CHANGED: event_changed\nEVENT_CANCELLED: event_cancelled\nPAYMENT_REQUEST: payment_request\nPAYMENT_STATUS: payment_status\nPAYMENT_BATCH: payment_batch\nPAYMENT_RECEIPT: payment_receipt\nPAYMENT_FAILED: payment_failed\nPAYMENT_ALERT: payment_alert\nMANAGER_ALERT: manager_alert\nCHAT_UNREACHABLE: chat_unreachable\nACCOUNT_NOTICE: account_notice\nCREW_REMOVED: crew_removed\nJOB_FAILED: job_failed\nPAY_SHEET: pay_sheet\nPAYROLL_APPROVAL: payroll_approval\nPAYROLL_STOPPED: payroll_stopped\nPAYSLIP: payslip', enum_type=NotificationKind, max_length=40),
        ),
        EnumAlterField(
            model_name='PaySheet',
            name='status',
            field=fields.CharEnumField(default=PaySheetStatus.DRAFT, description='DRAFT: draft\nSUBMITTED: submitted\nAPPROVED: approved\nCHECKING: checking\nPAYING: paying\nPAID: paid\nSTOPPED: stopped\nSUPERSEDED: superseded', enum_type=PaySheetStatus, max_length=16),
        ),
        ops.AddField(
            model_name='PaySheet',
            name='balance_asked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='PaySheet',
            name='balance_conversation_id',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='PaySheet',
            name='pay_started_by',
            field=fields.ForeignKeyField('models.Person', source_field='pay_started_by_id', null=True, db_constraint=True, to_field='id', related_name='pay_runs_started', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='PaySheet',
            name='stop_reason',
            field=fields.CharField(null=True, max_length=300),
        ),
        ops.AddField(
            model_name='Payout',
            name='checked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Payout',
            name='reason',
            field=fields.CharField(null=True, max_length=255),
        ),
    ]
