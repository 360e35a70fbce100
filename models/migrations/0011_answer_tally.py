from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import NotificationKind
from tortoise.fields.base import OnDelete
from tortoise import fields


class EnumAlterField(ops.AlterField):
    """Only the enum's members changed (two notification kinds): the column stays varchar(40)
    holding the same values. The plain AlterField would rebuild the table on SQLite."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0010_telegram_budget')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AnswerTally',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', unique=True, db_constraint=True, to_field='id', related_name='answer_tally', on_delete=OnDelete.CASCADE)),
                ('generation', fields.IntField(default=0)),
                ('last_answer_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'answer_tally', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Per event: which live "answers" message crew answers update. Its row is locked while'},
            bases=['Model'],
        ),
        EnumAlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='INVITE_LINK: invite_link\nINVITATION: invitation\nANSWER: answer\nREMINDER: reminder\nNUDGE: nudge\nBRIEFING: briefing\nEVENT_CHANGED: event_changed\nEVENT_CANCELLED: event_cancelled\nPAYMENT_REQUEST: payment_request\nPAYMENT_STATUS: payment_status\nPAYMENT_BATCH: payment_batch\nPAYMENT_RECEIPT: payment_receipt\nPAYMENT_FAILED: payment_failed\nPAYMENT_ALERT: payment_alert\nMANAGER_ALERT: manager_alert\nCHAT_UNREACHABLE: chat_unreachable\nACCOUNT_NOTICE: account_notice\nCREW_REMOVED: crew_removed\nJOB_FAILED: job_failed\nANSWERS_TALLY: answers_tally\nANSWERS_DIGEST: answers_digest', enum_type=NotificationKind, max_length=40),
        ),
    ]
