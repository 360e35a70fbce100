from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    dependencies = [('models', '0012_paying')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AnswerTally',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.OneToOneField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='answer_tally', on_delete=OnDelete.CASCADE)),
                ('generation', fields.IntField(default=0)),
                ('last_answer_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'answer_tally', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Per event: which live "answers" message crew answers update. Its row is locked while'},
            bases=['Model'],
        ),
    ]
