from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


class AddFieldWithDefault(ops.AddField):
    """AddField, but the column gets a database DEFAULT so that a table already holding rows
    can take it: tortoise emits `ADD COLUMN … NOT NULL` without one, which SQLite and
    PostgreSQL refuse on a table in use (the ORM's default is Python-side only)."""

    def __init__(self, *, table: str, ddl: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.table = table
        self.ddl = ddl

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):  # type: ignore[no-untyped-def]
        if state_editor is not None:
            await state_editor._run_sql(f'ALTER TABLE "{self.table}" ADD COLUMN {self.ddl}')


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
        AddFieldWithDefault(
            table='payment_batch_member',
            ddl='"repeat_ok" BOOL NOT NULL DEFAULT FALSE',
            model_name='PaymentBatchMember',
            name='repeat_ok',
            field=fields.BooleanField(default=False),
        ),
    ]
