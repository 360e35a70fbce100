from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import NotificationKind
from tortoise import fields


class EnumAlterField(ops.AlterField):
    """The answers tally's two kinds (payroll's came in 0011 and 0012): the column stays a
    varchar of the same length, so only the ORM's view changes (no table rebuild on SQLite)."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None

class Migration(migrations.Migration):
    dependencies = [('models', '0013_answer_tally')]

    initial = False

    operations = [
        EnumAlterField(
            model_name='OutboxMessage',
            name='kind',
            field=fields.CharEnumField(description='INVITE_LINK: invite_link\nINVITATION: invitation\nANSWER: answer\nREMINDER: reminder\nNUDGE: nudge\nBRIEFING: briefing\nEVENT_CHANGED: event_changed\nEVENT_CANCELLED: event_cancelled\nPAYMENT_REQUEST: payment_request\nPAYMENT_STATUS: payment_status\nPAYMENT_BATCH: payment_batch\nPAYMENT_RECEIPT: payment_receipt\nPAYMENT_FAILED: payment_failed\nPAYMENT_ALERT: payment_alert\nMANAGER_ALERT: manager_alert\nCHAT_UNREACHABLE: chat_unreachable\nACCOUNT_NOTICE: account_notice\nCREW_REMOVED: crew_removed\nJOB_FAILED: job_failed\nANSWERS_TALLY: answers_tally\nANSWERS_DIGEST: answers_digest\nPAY_SHEET: pay_sheet\nPAYROLL_APPROVAL: payroll_approval\nPAYROLL_STOPPED: payroll_stopped\nPAYSLIP: payslip', enum_type=NotificationKind, max_length=40),
        ),
    ]
