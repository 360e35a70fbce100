from tortoise import migrations
from tortoise.migrations import operations as ops
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
    dependencies = [('models', '0004_clock_stamps')]

    initial = False

    operations = [
        AddFieldWithDefault(
            table='outbox_message',
            ddl='"unknown_outcomes" INT NOT NULL DEFAULT 0',
            model_name='OutboxMessage',
            name='unknown_outcomes',
            field=fields.IntField(default=0),
        ),
    ]
