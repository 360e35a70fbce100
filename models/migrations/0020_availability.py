from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.availability import BroadcastStatus
from models.enums import NotificationKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class EnumAlterField(ops.AlterField):
    """The crew_off and broadcast notification kinds (and the day-off and broadcast audit
    actions, beyond what the enum's description holds): the columns stay varchars of the same
    length, so only the ORM's view changes (no table rebuild on SQLite)."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0019_webhooks')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Broadcast',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sender', fields.ForeignKeyField('models.Person', source_field='sender_id', db_constraint=True, to_field='id', related_name='broadcasts', on_delete=OnDelete.RESTRICT)),
                ('audience', fields.CharField(max_length=100)),
                ('text', fields.TextField(unique=False)),
                ('recipients', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharEnumField(default=BroadcastStatus.DRAFT, description='DRAFT: draft\nSENDING: sending\nDONE: done\nCANCELLED: cancelled', enum_type=BroadcastStatus, max_length=16)),
                ('summary', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'broadcast', 'app': 'models', 'indexes': [Index(fields=['status', 'id'])], 'pk_attr': 'id', 'table_description': 'One text to an audience. The recipients are fixed when the preview is shown, so Send'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DayOff',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='days_off', on_delete=OnDelete.CASCADE)),
                ('first_day', fields.DateField()),
                ('last_day', fields.DateField()),
                ('reason', fields.CharField(default='', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'day_off', 'app': 'models', 'indexes': [Index(fields=['person_id', 'last_day'])], 'pk_attr': 'id', 'table_description': 'A person will not work from first_day to last_day, both included.'},
            bases=['Model'],
        ),
        EnumAlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='INVITE_LINK: invite_link\nINVITATION: invitation\nANSWER: answer\nREMINDER: reminder\nNUDGE: nudge\nBRIEFING: briefing\nEVENT_CHANGED: event_changed\nEVENT_CANCELLED: event_cancelled\nPAYMENT_REQUEST: payment_request\nPAYMENT_STATUS: payment_status\nPAYMENT_BATCH: payment_batch\nPAYMENT_RECEIPT: payment_receipt\nPAYMENT_FAILED: payment_failed\nPAYMENT_ALERT: payment_alert\nMANAGER_ALERT: manager_alert\nCHAT_UNREACHABLE: chat_unreachable\nACCOUNT_NOTICE: account_notice\nCREW_REMOVED: crew_removed\nJOB_FAILED: job_failed\nANSWERS_TALLY: answers_tally\nANSWERS_DIGEST: answers_digest\nPAY_SHEET: pay_sheet\nPAYROLL_APPROVAL: payroll_approval\nPAYROLL_STOPPED: payroll_stopped\nPAYSLIP: payslip\nRECONCILIATION_ALERT: reconciliation_alert\nPAYMENT_RECORDED: payment_recorded\nPAYMENT_UNRECORDED: payment_unrecorded\nINVOICE: invoice\nREFUND: refund\nREFUND_APPROVAL: refund_approval\nREFUND_NOTICE: refund_notice\nREFUND_OUTCOME: refund_outcome\nWEBHOOK_DISABLED: webhook_disabled\nCREW_OFF: crew_off\nBROADCAST: broadcast', enum_type=NotificationKind, max_length=40),
        ),
    ]
