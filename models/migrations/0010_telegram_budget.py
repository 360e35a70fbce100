from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_conversations')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TelegramBudget',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('tat', fields.FloatField(default=0.0)),
            ],
            options={'table': 'telegram_budget', 'app': 'models', 'pk_attr': 'key', 'table_description': "The bot's overall budget (Telegram: about 30 messages a second per bot)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TelegramChatBudget',
            fields=[
                ('chat_id', fields.BigIntField(primary_key=True, generated=False, unique=True, db_index=True)),
                ('tat', fields.FloatField(default=0.0)),
            ],
            options={'table': 'telegram_chat_budget', 'app': 'models', 'indexes': [Index(fields=['tat'])], 'pk_attr': 'chat_id', 'table_description': "One chat's budget (Telegram: about 1 message a second per chat)."},
            bases=['Model'],
        ),
    ]
