from tortoise import migrations
from tortoise.migrations import operations as ops
from models.enums import BatchMemberStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PaymentBatch',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('models.Event', source_field='event_id', db_constraint=True, to_field='id', related_name='payment_batches', on_delete=OnDelete.RESTRICT)),
                ('requested_by', fields.ForeignKeyField('models.Person', source_field='requested_by_id', db_constraint=True, to_field='id', related_name='payment_batches', on_delete=OnDelete.RESTRICT)),
                ('amount', fields.IntField()),
                ('purpose', fields.CharField(max_length=100)),
                ('account_reference', fields.CharField(max_length=12)),
                ('transaction_desc', fields.CharField(max_length=13)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'payment_batch', 'app': 'models', 'pk_attr': 'id', 'table_description': "One amount and purpose asked of several people at once (the event card's button)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PaymentBatchMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('batch', fields.ForeignKeyField('models.PaymentBatch', source_field='batch_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='batch_memberships', on_delete=OnDelete.RESTRICT)),
                ('phone', fields.CharField(max_length=16)),
                ('status', fields.CharEnumField(default=BatchMemberStatus.QUEUED, description='QUEUED: queued\nASKED: asked\nSKIPPED: skipped', enum_type=BatchMemberStatus, max_length=16)),
                ('reason', fields.CharField(null=True, max_length=200)),
                ('resend_of', fields.ForeignKeyField('models.Payment', source_field='resend_of_id', null=True, db_constraint=True, to_field='id', related_name='batch_resends', on_delete=OnDelete.SET_NULL)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'payment_batch_member', 'app': 'models', 'unique_together': (('batch', 'person'),), 'indexes': [Index(fields=['status', 'batch_id'])], 'pk_attr': 'id', 'table_description': 'A person asked (or to be asked) in a batch. The sender claims QUEUED rows one by one.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Payment',
            name='batch',
            field=fields.ForeignKeyField('models.PaymentBatch', source_field='batch_id', null=True, db_constraint=True, to_field='id', related_name='payments', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddIndex(
            model_name='Payment',
            index=Index(fields=['batch_id', 'person_id']),
        ),
    ]
