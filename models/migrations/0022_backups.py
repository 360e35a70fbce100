from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import JobKind, NotificationKind, SpotStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class AddFieldWithDefault(ops.AddField):
    """AddField, but the column gets a database DEFAULT so that a table already holding rows
    can take it (the ORM's default is Python-side only): events already there keep Auto
    backups on."""

    def __init__(self, *, table: str, ddl: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.table = table
        self.ddl = ddl

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):  # type: ignore[no-untyped-def]
        if state_editor is not None:
            await state_editor._run_sql(f'ALTER TABLE "{self.table}" ADD COLUMN {self.ddl}')


class EnumAlterField(ops.AlterField):
    """The new notification and job kinds: the columns stay varchars of the same length, so
    only the ORM's view changes (no table rebuild on SQLite)."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0021_event_documents')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BackupSpot',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='backup_spots', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharField(max_length=60)),
                ('source', fields.ForeignKeyField('models.Assignment', source_field='source_id', db_constraint=True, to_field='id', related_name='spots_left', on_delete=OnDelete.CASCADE)),
                ('unanswered', fields.BooleanField(default=False)),
                ('status', fields.CharEnumField(default=SpotStatus.OPEN, description='OPEN: open\nFILLED: filled', enum_type=SpotStatus, max_length=16)),
                ('filled_by', fields.ForeignKeyField('models.Assignment', source_field='filled_by_id', null=True, db_constraint=True, to_field='id', related_name='spots_filled', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'backup_spot', 'app': 'models', 'indexes': [Index(fields=['event_id', 'status'])], 'pk_attr': 'id', 'table_description': 'One place to fill. Its row is locked (PostgreSQL) or conditionally updated (SQLite)'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BackupOffer',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('spot', fields.ForeignKeyField('models.BackupSpot', source_field='spot_id', db_constraint=True, to_field='id', related_name='offers', on_delete=OnDelete.CASCADE)),
                ('assignment', fields.OneToOneField('models.Assignment', source_field='assignment_id', db_constraint=True, to_field='id', related_name='offer', on_delete=OnDelete.CASCADE)),
                ('until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'backup_offer', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A spot offered to one person: their invitation (an Assignment) and its deadline.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EventNeed',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='needs', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharField(max_length=60)),
                ('count', fields.IntField()),
            ],
            options={'table': 'event_need', 'app': 'models', 'unique_together': (('event', 'role'),), 'pk_attr': 'id', 'table_description': 'How many of one role an event needs (`rigger 3`). Without any: `crew_target`, any role.'},
            bases=['Model'],
        ),
        AddFieldWithDefault(
            table='event',
            ddl='"auto_backups" BOOL NOT NULL DEFAULT TRUE',
            model_name='Event',
            name='auto_backups',
            field=fields.BooleanField(default=True),
        ),
        EnumAlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='INVITE_LINK: invite_link\nINVITATION: invitation\nANSWER: answer\nREMINDER: reminder\nNUDGE: nudge\nBRIEFING: briefing\nEVENT_CHANGED: event_changed\nEVENT_CANCELLED: event_cancelled\nPAYMENT_REQUEST: payment_request\nPAYMENT_STATUS: payment_status\nPAYMENT_BATCH: payment_batch\nPAYMENT_RECEIPT: payment_receipt\nPAYMENT_FAILED: payment_failed\nPAYMENT_ALERT: payment_alert\nMANAGER_ALERT: manager_alert\nCHAT_UNREACHABLE: chat_unreachable\nACCOUNT_NOTICE: account_notice\nCREW_REMOVED: crew_removed\nJOB_FAILED: job_failed\nANSWERS_TALLY: answers_tally\nANSWERS_DIGEST: answers_digest\nPAY_SHEET: pay_sheet\nPAYROLL_APPROVAL: payroll_approval\nPAYROLL_STOPPED: payroll_stopped\nPAYSLIP: payslip\nRECONCILIATION_ALERT: reconciliation_alert\nPAYMENT_RECORDED: payment_recorded\nPAYMENT_UNRECORDED: payment_unrecorded\nINVOICE: invoice\nREFUND: refund\nREFUND_APPROVAL: refund_approval\nREFUND_NOTICE: refund_notice\nREFUND_OUTCOME: refund_outcome\nWEBHOOK_DISABLED: webhook_disabled\nCREW_OFF: crew_off\nBROADCAST: broadcast\nBACKUP_OFFER: backup_offer', enum_type=NotificationKind, max_length=40),
        ),
        EnumAlterField(
            model_name='ScheduledJob',
            name='kind',
            field=fields.CharEnumField(description='REMINDER: reminder\nNUDGE: nudge\nMANAGER_ALERT: manager_alert\nPAYMENT_QUERY: payment_query\nANSWER_DEADLINE: answer_deadline', enum_type=JobKind, max_length=20),
        ),
    ]
