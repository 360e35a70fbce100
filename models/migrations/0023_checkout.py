from tortoise import migrations
from tortoise.migrations import operations as ops
from models.checkout import DepositStatus
from models.enums import NotificationKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class EnumAlterField(ops.AlterField):
    """The new notification kind: the column stays a varchar of the same length, so only the
    ORM's view changes (no table rebuild on SQLite)."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0022_backups')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Deposit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='deposits', on_delete=OnDelete.RESTRICT)),
                ('client_name', fields.CharField(max_length=100)),
                ('phone', fields.CharField(max_length=16)),
                ('total', fields.IntField()),
                ('created_by', fields.ForeignKeyField('models.Person', source_field='created_by_id', db_constraint=True, to_field='id', related_name='deposits_made', on_delete=OnDelete.RESTRICT)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(default=DepositStatus.OPEN, description='OPEN: open\nPAID: paid', enum_type=DepositStatus, max_length=16)),
                ('pushes', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'deposit', 'app': 'models', 'indexes': [Index(fields=['status', 'created_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Instalment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('deposit', fields.ForeignKeyField('models.Deposit', source_field='deposit_id', db_constraint=True, to_field='id', related_name='instalments', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('amount', fields.IntField()),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('pushed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('missed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'instalment', 'app': 'models', 'unique_together': (('deposit', 'number'),), 'indexes': [Index(fields=['pushed_at', 'due_at']), Index(fields=['missed_at', 'due_at'])], 'pk_attr': 'id', 'table_description': 'One part of a deposit: pushed_at and missed_at claim its due-date push and its'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InstalmentPayment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('instalment', fields.ForeignKeyField('models.Instalment', source_field='instalment_id', db_constraint=True, to_field='id', related_name='links', on_delete=OnDelete.CASCADE)),
                ('payment', fields.OneToOneField('models.Payment', source_field='payment_id', db_constraint=True, to_field='id', related_name='instalment_link', on_delete=OnDelete.RESTRICT)),
                ('scheduled', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'instalment_payment', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A payment made for an instalment: each payment pays at most one instalment.'},
            bases=['Model'],
        ),
        EnumAlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='INVITE_LINK: invite_link\nINVITATION: invitation\nANSWER: answer\nREMINDER: reminder\nNUDGE: nudge\nBRIEFING: briefing\nEVENT_CHANGED: event_changed\nEVENT_CANCELLED: event_cancelled\nPAYMENT_REQUEST: payment_request\nPAYMENT_STATUS: payment_status\nPAYMENT_BATCH: payment_batch\nPAYMENT_RECEIPT: payment_receipt\nPAYMENT_FAILED: payment_failed\nPAYMENT_ALERT: payment_alert\nMANAGER_ALERT: manager_alert\nCHAT_UNREACHABLE: chat_unreachable\nACCOUNT_NOTICE: account_notice\nCREW_REMOVED: crew_removed\nJOB_FAILED: job_failed\nANSWERS_TALLY: answers_tally\nANSWERS_DIGEST: answers_digest\nPAY_SHEET: pay_sheet\nPAYROLL_APPROVAL: payroll_approval\nPAYROLL_STOPPED: payroll_stopped\nPAYSLIP: payslip\nRECONCILIATION_ALERT: reconciliation_alert\nPAYMENT_RECORDED: payment_recorded\nPAYMENT_UNRECORDED: payment_unrecorded\nINVOICE: invoice\nREFUND: refund\nREFUND_APPROVAL: refund_approval\nREFUND_NOTICE: refund_notice\nREFUND_OUTCOME: refund_outcome\nWEBHOOK_DISABLED: webhook_disabled\nCREW_OFF: crew_off\nBROADCAST: broadcast\nBACKUP_OFFER: backup_offer\nDEPOSIT: deposit', enum_type=NotificationKind, max_length=40),
        ),
    ]
