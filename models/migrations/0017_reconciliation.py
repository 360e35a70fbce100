from tortoise import migrations
from tortoise.migrations import operations as ops
from models.books import ReconGroup
from models.enums import AuditAction, NotificationKind, PaymentMethod, ReceiptKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class EnumAlterField(ops.AlterField):
    """New audit actions, notification kinds, receipt kind and the mpesa payment method: the
    columns stay varchars of the same length, so only the ORM's view changes (no table
    rebuild on SQLite)."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0016_receipts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Reconciliation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sha256', fields.CharField(unique=True, max_length=64)),
                ('file_name', fields.CharField(max_length=200)),
                ('short_code', fields.CharField(null=True, max_length=10)),
                ('period_from', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('period_to', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('opening', fields.BigIntField(null=True)),
                ('closing', fields.BigIntField(null=True)),
                ('paid_in', fields.BigIntField()),
                ('withdrawn', fields.BigIntField()),
                ('fees', fields.BigIntField()),
                ('books_in', fields.BigIntField()),
                ('books_out', fields.BigIntField()),
                ('rows', fields.IntField()),
                ('left_out', fields.IntField()),
                ('matched', fields.IntField()),
                ('not_in_books', fields.IntField()),
                ('not_in_statement', fields.IntField()),
                ('amount_differs', fields.IntField()),
                ('created_by', fields.ForeignKeyField('models.Person', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='reconciliations', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'reconciliation', 'app': 'models', 'pk_attr': 'id', 'table_description': "One statement file reconciled: its period, balances, totals and counts. The file's"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReconciliationRow',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('reconciliation', fields.ForeignKeyField('models.Reconciliation', source_field='reconciliation_id', db_constraint=True, to_field='id', related_name='exceptions', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='NOT_IN_BOOKS: not_in_books\nNOT_IN_STATEMENT: not_in_statement\nAMOUNT_DIFFERS: amount_differs', enum_type=ReconGroup, max_length=20)),
                ('receipt', fields.CharField(max_length=20)),
                ('completed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('statement_amount', fields.BigIntField(null=True)),
                ('books_amount', fields.BigIntField(null=True)),
                ('direction', fields.CharField(max_length=3)),
                ('other_party', fields.CharField(default='', max_length=120)),
                ('line', fields.IntField(null=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', null=True, db_constraint=True, to_field='id', related_name='reconciliation_rows', on_delete=OnDelete.SET_NULL)),
                ('payment_id', fields.IntField(null=True)),
                ('payout_id', fields.IntField(null=True)),
            ],
            options={'table': 'reconciliation_row', 'app': 'models', 'indexes': [Index(fields=['reconciliation_id', 'kind'])], 'pk_attr': 'id', 'table_description': 'A row that did not match, with what each side says.'},
            bases=['Model'],
        ),
        EnumAlterField(
            model_name='AuditLog',
            name='action',
            field=fields.CharEnumField(description='ASSIGNMENT_BRIEFING_READ: assignment.briefing_read\nASSIGNMENT_CANCELLED: assignment.cancelled\nASSIGNMENT_CONFIRMED: assignment.confirmed\nASSIGNMENT_DECLINED: assignment.declined\nASSIGNMENT_INVITED: assignment.invited\nASSIGNMENT_REASON: assignment.reason\nASSIGNMENT_REINVITED: assignment.reinvited\nEVENT_BRIEFED: event.briefed\nEVENT_CANCELLED: event.cancelled\nEVENT_COMPLETED: event.completed\nEVENT_CREATED: event.created\nEVENT_EDITED: event.edited\nEVENT_REMINDED: event.reminded\nINVOICE_CREATED: invoice.created\nLEDGER_CHARGE: ledger.charge\nLEDGER_UNCHARGE: ledger.uncharge\nLEDGER_RECORDED: ledger.recorded\nLEDGER_UNRECORDED: ledger.unrecorded\nOUTBOX_RESENT: outbox.resent\nPAYMENT_CANCELLED: payment.cancelled\nPAYMENT_COMPLETED: payment.completed\nPAYMENT_FAILED: payment.failed\nPAYMENT_FLAG_RESOLVED: payment.flag_resolved\nPAYMENT_INITIATED: payment.initiated\nPAYMENT_PENDING: payment.pending\nPAYMENT_RECEIPT: payment.receipt\nPAYMENT_REQUESTED: payment.requested\nPAYMENT_TIMEOUT: payment.timeout\nPAYMENT_UNKNOWN: payment.unknown\nPAYMENT_BATCH_RESEND: payment_batch.resend\nPAYMENT_BATCH_SEND_ANYWAY: payment_batch.send_anyway\nPAYMENT_BATCH_STARTED: payment_batch.started\nPAYROLL_APPROVED: payroll.approved\nPAYROLL_BUILT: payroll.built\nPAYROLL_LINE_CHANGED: payroll.line_changed\nPAYROLL_REOPENED: payroll.reopened\nPAYROLL_SUBMITTED: payroll.submitted\nPAYROLL_SUPERSEDED: payroll.superseded\nPAYROLL_PAY_STARTED: payroll.pay_started\nPAYROLL_STOPPED: payroll.stopped\nPAYROLL_PAID: payroll.paid\nPAYOUT_PAID: payout.paid\nPAYOUT_FAILED: payout.failed\nPAYOUT_UNKNOWN: payout.unknown\nPERSON_ACCESS_CHANGED: person.access_changed\nPERSON_ADDED: person.added\nPERSON_CHAT_REACHABLE: person.chat_reachable\nPERSON_CHAT_UNREACHABLE: person.chat_unreachable\nPERSON_DEACTIVATED: person.deactivated\nPERSON_EDITED: person.edited\nPERSON_LINK_ISSUED: person.link_issued\nPERSON_LINK_REFUSED: person.link_refused\nPERSON_LINKED: person.linked\nPERSON_REACTIVATED: person.reactivated\nRATE_SET: rate.set\nRATE_CLEARED: rate.cleared\nRECONCILIATION_IMPORTED: reconciliation.import', enum_type=AuditAction, max_length=60),
        ),
        EnumAlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='INVITE_LINK: invite_link\nINVITATION: invitation\nANSWER: answer\nREMINDER: reminder\nNUDGE: nudge\nBRIEFING: briefing\nEVENT_CHANGED: event_changed\nEVENT_CANCELLED: event_cancelled\nPAYMENT_REQUEST: payment_request\nPAYMENT_STATUS: payment_status\nPAYMENT_BATCH: payment_batch\nPAYMENT_RECEIPT: payment_receipt\nPAYMENT_FAILED: payment_failed\nPAYMENT_ALERT: payment_alert\nMANAGER_ALERT: manager_alert\nCHAT_UNREACHABLE: chat_unreachable\nACCOUNT_NOTICE: account_notice\nCREW_REMOVED: crew_removed\nJOB_FAILED: job_failed\nANSWERS_TALLY: answers_tally\nANSWERS_DIGEST: answers_digest\nPAY_SHEET: pay_sheet\nPAYROLL_APPROVAL: payroll_approval\nPAYROLL_STOPPED: payroll_stopped\nPAYSLIP: payslip\nRECONCILIATION_ALERT: reconciliation_alert\nPAYMENT_RECORDED: payment_recorded\nPAYMENT_UNRECORDED: payment_unrecorded\nINVOICE: invoice', enum_type=NotificationKind, max_length=40),
        ),
        ops.AlterModelOptions(
            name='Receipt',
            options={'table': 'receipt', 'app': 'models', 'unique_together': (('year', 'seq'),), 'pk_attr': 'id', 'table_description': 'One receipt per money movement: a completed payment, a paid payout, or a payment'},
        ),
        EnumAlterField(
            model_name='Receipt',
            name='kind',
            field=fields.CharEnumField(description='PAYMENT: payment\nPAYOUT: payout\nRECORDED: recorded', enum_type=ReceiptKind, max_length=16),
        ),
        ops.AddField(
            model_name='Receipt',
            name='recorded_payment',
            field=fields.OneToOneField('models.RecordedPayment', source_field='recorded_payment_id', null=True, db_constraint=True, to_field='id', related_name='document', on_delete=OnDelete.RESTRICT),
        ),
        EnumAlterField(
            model_name='RecordedPayment',
            name='method',
            field=fields.CharEnumField(description='CASH: cash\nBANK: bank\nAIRTEL: airtel\nCHEQUE: cheque\nMPESA: mpesa', enum_type=PaymentMethod, max_length=16),
        ),
    ]
