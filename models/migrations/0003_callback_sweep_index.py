from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_payment_batches')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='DarajaCallback',
            index=Index(fields=['status', 'received_at']),
        ),
    ]
