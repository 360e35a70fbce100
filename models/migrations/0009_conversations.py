from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_audit_action_and_outbox_kind_enums')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ConversationRow',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('chat_id', fields.BigIntField()),
                ('user_id', fields.BigIntField()),
                ('flow', fields.CharField(null=True, max_length=40)),
                ('state', fields.IntField(null=True)),
                ('started_by', fields.CharField(null=True, max_length=60)),
                ('data', fields.BinaryField()),
                ('version', fields.IntField(default=1)),
                ('busy_by', fields.CharField(null=True, max_length=40)),
                ('busy_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'conversation', 'app': 'models', 'unique_together': (('chat_id', 'user_id'),), 'pk_attr': 'id', 'table_description': 'One row per private chat with something to remember (the flow it is in, if any, and'},
            bases=['Model'],
        ),
    ]
