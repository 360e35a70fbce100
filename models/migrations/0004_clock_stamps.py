from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class StampAlterField(ops.AlterField):
    """auto_now and auto_now_add live in the ORM only: the columns do not change. The plain
    AlterField would rebuild each table on SQLite (copy, DROP, rename), and dropping a
    table that holds rows fires its foreign keys' cascades: a database in use failed to
    upgrade, or lost its link tokens and scheduled jobs."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0003_callback_sweep_index')]

    initial = False

    operations = [
        StampAlterField(
            model_name='Assignment',
            name='invited_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='Assignment',
            name='updated_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='AuditLog',
            name='at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='Briefing',
            name='created_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='DarajaCallback',
            name='received_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='Event',
            name='created_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='Event',
            name='updated_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='LedgerEntry',
            name='created_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='LinkToken',
            name='created_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='LiveMessage',
            name='updated_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='OutboxMessage',
            name='created_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='Payment',
            name='created_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='Payment',
            name='updated_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='PaymentBatchMember',
            name='updated_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='Person',
            name='created_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='Person',
            name='updated_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='ProcessedUpdate',
            name='received_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='ScheduledJob',
            name='created_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        StampAlterField(
            model_name='ServiceToken',
            name='updated_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
    ]
