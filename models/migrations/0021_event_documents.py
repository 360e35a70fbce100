from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import AuditAction, DocumentSeries, FileKind
from tortoise.fields.base import OnDelete
from tortoise import fields


class EnumAlterField(ops.AlterField):
    """The new audit actions and attachment kinds: the columns stay varchars of the same
    length, so only the ORM's view changes (no table rebuild on SQLite)."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0020_availability')]

    initial = False

    operations = [
        ops.CreateModel(
            name='EventDocument',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='documents', on_delete=OnDelete.RESTRICT)),
                ('name', fields.CharField(max_length=255)),
                ('kind', fields.CharEnumField(description='DOCUMENT: document\nPHOTO: photo', enum_type=FileKind, max_length=16)),
                ('mime_type', fields.CharField(max_length=100)),
                ('size', fields.IntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('telegram_file_id', fields.CharField(max_length=255)),
                ('added_by', fields.ForeignKeyField('models.Person', source_field='added_by_id', db_constraint=True, to_field='id', related_name='documents_added', on_delete=OnDelete.RESTRICT)),
                ('added_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'event_document', 'app': 'models', 'unique_together': (('event_id', 'sha256'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        EnumAlterField(
            model_name='AuditLog',
            name='action',
            field=fields.CharEnumField(description='ASSIGNMENT_BRIEFING_READ: assignment.briefing_read\nASSIGNMENT_CANCELLED: assignment.cancelled\nASSIGNMENT_CONFIRMED: assignment.confirmed\nASSIGNMENT_DECLINED: assignment.declined\nASSIGNMENT_INVITED: assignment.invited\nASSIGNMENT_REASON: assignment.reason\nASSIGNMENT_REINVITED: assignment.reinvited\nEVENT_BRIEFED: event.briefed\nEVENT_DOCUMENT_ADDED: event.document_added\nEVENT_DOCUMENT_REMOVED: event.document_removed\nEVENT_CANCELLED: event.cancelled\nEVENT_COMPLETED: event.completed\nEVENT_CREATED: event.created\nEVENT_EDITED: event.edited\nEVENT_REMINDED: event.reminded\nINVOICE_CREATED: invoice.created\nLEDGER_CHARGE: ledger.charge\nLEDGER_UNCHARGE: ledger.uncharge\nLEDGER_RECORDED: ledger.recorded\nLEDGER_UNRECORDED: ledger.unrecorded\nOUTBOX_RESENT: outbox.resent\nPAYMENT_CANCELLED: payment.cancelled\nPAYMENT_COMPLETED: payment.completed\nPAYMENT_FAILED: payment.failed\nPAYMENT_FLAG_RESOLVED: payment.flag_resolved\nPAYMENT_INITIATED: payment.initiated\nPAYMENT_PENDING: payment.pending\nPAYMENT_RECEIPT: payment.receipt\nPAYMENT_REQUESTED: payment.requested\nPAYMENT_TIMEOUT: payment.timeout\nPAYMENT_UNKNOWN: payment.unknown\nPAYMENT_BATCH_RESEND: payment_batch.resend\nPAYMENT_BATCH_SEND_ANYWAY: payment_batch.send_anyway\nPAYMENT_BATCH_STARTED: payment_batch.started\nPAYROLL_APPROVED: payroll.approved\nPAYROLL_BUILT: payroll.built\nPAYROLL_LINE_CHANGED: payroll.line_changed\nPAYROLL_REOPENED: payroll.reopened\nPAYROLL_SUBMITTED: payroll.submitted\nPAYROLL_SUPERSEDED: payroll.superseded\nPAYROLL_PAY_STARTED: payroll.pay_started\nPAYROLL_STOPPED: payroll.stopped\nPAYROLL_PAID: payroll.paid\nPAYOUT_PAID: payout.paid\nPAYOUT_FAILED: payout.failed\nPAYOUT_UNKNOWN: payout.unknown\nPERSON_ACCESS_CHANGED: person.access_changed\nPERSON_ADDED: person.added\nPERSON_CHAT_REACHABLE: person.chat_reachable\nPERSON_CHAT_UNREACHABLE: person.chat_unreachable\nPERSON_DEACTIVATED: person.deactivated\nPERSON_EDITED: person.edited\nPERSON_LINK_ISSUED: person.link_issued\nPERSON_LINK_REFUSED: person.link_refused\nPERSON_LINKED: person.linked\nPERSON_REACTIVATED: person.reactivated\nRA', enum_type=AuditAction, max_length=60),
        ),
        EnumAlterField(
            model_name='DocumentCounter',
            name='series',
            field=fields.CharEnumField(description='RECEIPT: R\nINVOICE: INV\nEVENT_FILE: FILE\nBRIEFING: BRF', enum_type=DocumentSeries, max_length=8),
        ),
        EnumAlterField(
            model_name='OutboxMessage',
            name='attachment',
            field=fields.CharEnumField(null=True, description='RECEIPT: R\nINVOICE: INV\nEVENT_FILE: FILE\nBRIEFING: BRF', enum_type=DocumentSeries, max_length=8),
        ),
    ]
