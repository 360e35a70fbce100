from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import AuditAction, DocumentSeries, InvoiceStatus, NotificationKind, ReceiptKind
from tortoise.fields.base import OnDelete
from tortoise import fields


class EnumAlterField(ops.AlterField):
    """The audit action and outbox kind columns stay varchar of the same length: only their
    members change (invoice.created, invoice), so nothing is rebuilt (as in 0008, 0012, 0014)."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0015_recorded')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DocumentCounter',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('series', fields.CharEnumField(description='RECEIPT: R\nINVOICE: INV', enum_type=DocumentSeries, max_length=8)),
                ('year', fields.IntField()),
                ('issued', fields.IntField(default=0)),
            ],
            options={'table': 'document_counter', 'app': 'models', 'unique_together': (('series', 'year'),), 'pk_attr': 'id', 'table_description': 'The last number given in one series for one year (in the company timezone).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Invoice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('number', fields.CharField(unique=True, max_length=20)),
                ('year', fields.IntField()),
                ('seq', fields.IntField()),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='invoices', on_delete=OnDelete.RESTRICT)),
                ('client_name', fields.CharField(max_length=120)),
                ('client_email', fields.CharField(max_length=254)),
                ('total', fields.BigIntField()),
                ('status', fields.CharEnumField(default=InvoiceStatus.OPEN, description='OPEN: open\nPAID: paid\nCANCELLED: cancelled', enum_type=InvoiceStatus, max_length=16)),
                ('created_by', fields.ForeignKeyField('models.Person', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='invoices_created', on_delete=OnDelete.SET_NULL)),
                ('issued_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('paid_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'invoice', 'app': 'models', 'unique_together': (('year', 'seq'),), 'pk_attr': 'id', 'table_description': 'An invoice to a client for an event, paid later through the checkout page or recorded.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvoiceLine',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('invoice', fields.ForeignKeyField('models.Invoice', source_field='invoice_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
                ('description', fields.CharField(max_length=120)),
                ('amount', fields.BigIntField()),
            ],
            options={'table': 'invoice_line', 'app': 'models', 'unique_together': (('invoice', 'position'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Receipt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('number', fields.CharField(unique=True, max_length=20)),
                ('year', fields.IntField()),
                ('seq', fields.IntField()),
                ('kind', fields.CharEnumField(description='PAYMENT: payment\nPAYOUT: payout', enum_type=ReceiptKind, max_length=16)),
                ('payment', fields.OneToOneField('models.Payment', source_field='payment_id', null=True, db_constraint=True, to_field='id', related_name='document', on_delete=OnDelete.RESTRICT)),
                ('payout', fields.OneToOneField('models.Payout', source_field='payout_id', null=True, db_constraint=True, to_field='id', related_name='document', on_delete=OnDelete.RESTRICT)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', null=True, db_constraint=True, to_field='id', related_name='receipts', on_delete=OnDelete.SET_NULL)),
                ('amount', fields.IntField()),
                ('issued_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'receipt', 'app': 'models', 'unique_together': (('year', 'seq'),), 'pk_attr': 'id', 'table_description': 'One receipt per money movement: a completed payment or a paid payout.'},
            bases=['Model'],
        ),
        EnumAlterField(
            model_name='AuditLog',
            name='action',
            field=fields.CharEnumField(description='ASSIGNMENT_BRIEFING_READ: assignment.briefing_read\nASSIGNMENT_CANCELLED: assignment.cancelled\nASSIGNMENT_CONFIRMED: assignment.confirmed\nASSIGNMENT_DECLINED: assignment.declined\nASSIGNMENT_INVITED: assignment.invited\nASSIGNMENT_REASON: assignment.reason\nASSIGNMENT_REINVITED: assignment.reinvited\nEVENT_BRIEFED: event.briefed\nEVENT_CANCELLED: event.cancelled\nEVENT_COMPLETED: event.completed\nEVENT_CREATED: event.created\nEVENT_EDITED: event.edited\nEVENT_REMINDED: event.reminded\nINVOICE_CREATED: invoice.created\nLEDGER_CHARGE: ledger.charge\nLEDGER_UNCHARGE: ledger.uncharge\nOUTBOX_RESENT: outbox.resent\nPAYMENT_CANCELLED: payment.cancelled\nPAYMENT_COMPLETED: payment.completed\nPAYMENT_FAILED: payment.failed\nPAYMENT_FLAG_RESOLVED: payment.flag_resolved\nPAYMENT_INITIATED: payment.initiated\nPAYMENT_PENDING: payment.pending\nPAYMENT_RECEIPT: payment.receipt\nPAYMENT_REQUESTED: payment.requested\nPAYMENT_TIMEOUT: payment.timeout\nPAYMENT_UNKNOWN: payment.unknown\nPAYMENT_BATCH_RESEND: payment_batch.resend\nPAYMENT_BATCH_SEND_ANYWAY: payment_batch.send_anyway\nPAYMENT_BATCH_STARTED: payment_batch.started\nPAYROLL_APPROVED: payroll.approved\nPAYROLL_BUILT: payroll.built\nPAYROLL_LINE_CHANGED: payroll.line_changed\nPAYROLL_REOPENED: payroll.reopened\nPAYROLL_SUBMITTED: payroll.submitted\nPAYROLL_SUPERSEDED: payroll.superseded\nPAYROLL_PAY_STARTED: payroll.pay_started\nPAYROLL_STOPPED: payroll.stopped\nPAYROLL_PAID: payroll.paid\nPAYOUT_PAID: payout.paid\nPAYOUT_FAILED: payout.failed\nPAYOUT_UNKNOWN: payout.unknown\nPERSON_ACCESS_CHANGED: person.access_changed\nPERSON_ADDED: person.added\nPERSON_CHAT_REACHABLE: person.chat_reachable\nPERSON_CHAT_UNREACHABLE: person.chat_unreachable\nPERSON_DEACTIVATED: person.deactivated\nPERSON_EDITED: person.edited\nPERSON_LINK_ISSUED: person.link_issued\nPERSON_LINK_REFUSED: person.link_refused\nPERSON_LINKED: person.linked\nPERSON_REACTIVATED: person.reactivated\nRATE_SET: rate.set\nRATE_CLEARED: rate.cleared', enum_type=AuditAction, max_length=60),
        ),
        EnumAlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='INVITE_LINK: invite_link\nINVITATION: invitation\nANSWER: answer\nREMINDER: reminder\nNUDGE: nudge\nBRIEFING: briefing\nEVENT_CHANGED: event_changed\nEVENT_CANCELLED: event_cancelled\nPAYMENT_REQUEST: payment_request\nPAYMENT_STATUS: payment_status\nPAYMENT_BATCH: payment_batch\nPAYMENT_RECEIPT: payment_receipt\nPAYMENT_FAILED: payment_failed\nPAYMENT_ALERT: payment_alert\nMANAGER_ALERT: manager_alert\nCHAT_UNREACHABLE: chat_unreachable\nACCOUNT_NOTICE: account_notice\nCREW_REMOVED: crew_removed\nJOB_FAILED: job_failed\nANSWERS_TALLY: answers_tally\nANSWERS_DIGEST: answers_digest\nPAY_SHEET: pay_sheet\nPAYROLL_APPROVAL: payroll_approval\nPAYROLL_STOPPED: payroll_stopped\nPAYSLIP: payslip\nINVOICE: invoice', enum_type=NotificationKind, max_length=40),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='attachment',
            field=fields.CharEnumField(null=True, description='RECEIPT: R\nINVOICE: INV', enum_type=DocumentSeries, max_length=8),
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='attachment_id',
            field=fields.IntField(null=True),
        ),
    ]
