from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0023_checkout')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MenuButton',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.OneToOneField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='menu_button', on_delete=OnDelete.CASCADE)),
                ('telegram_id', fields.BigIntField()),
                ('url', fields.CharField(max_length=300)),
                ('text', fields.CharField(max_length=64)),
                ('error', fields.CharField(null=True, max_length=300)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'menu_button', 'app': 'models', 'pk_attr': 'id', 'table_description': "The menu button last set (or refused) in one person's chat: set again only when the"},
            bases=['Model'],
        ),
    ]
