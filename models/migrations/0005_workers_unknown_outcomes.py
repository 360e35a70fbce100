from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_clock_stamps')]

    initial = False

    operations = [
        ops.AddField(
            model_name='OutboxMessage',
            name='unknown_outcomes',
            field=fields.IntField(default=0),
        ),
    ]
