from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_people_link_token_hash')]

    initial = False

    operations = [
        ops.AddField(
            model_name='LedgerEntry',
            name='reverses',
            field=fields.OneToOneField('models.LedgerEntry', source_field='reverses_id', null=True, db_constraint=True, to_field='id', related_name='reversal', on_delete=OnDelete.NO_ACTION),
        ),
        ops.AddField(
            model_name='Payment',
            name='flag_resolution',
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name='Payment',
            name='flag_resolved_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Payment',
            name='flag_resolved_by',
            field=fields.ForeignKeyField('models.Person', source_field='flag_resolved_by_id', null=True, db_constraint=True, to_field='id', related_name='flags_resolved', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='PaymentBatchMember',
            name='repeat_ok',
            field=fields.BooleanField(default=False),
        ),
    ]
