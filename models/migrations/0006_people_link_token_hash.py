"""Link tokens are stored as their SHA-256: unused links issued before this migration keep
working, because their stored token is replaced by its hash here."""

import hashlib
from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops


async def hash_existing_tokens(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    update = (
        "UPDATE link_token SET token_hash = $1 WHERE id = $2"
        if postgres
        else "UPDATE link_token SET token_hash = ? WHERE id = ?"
    )
    _, rows = await client.execute_query("SELECT id, token_hash FROM link_token")
    for row in rows:
        digest = hashlib.sha256(str(row["token_hash"]).encode()).hexdigest()
        await client.execute_query(update, [digest, row["id"]])


class Migration(migrations.Migration):
    dependencies = [('models', '0005_workers_unknown_outcomes')]

    initial = False

    operations = [
        ops.RenameField(
            model_name='LinkToken',
            old_name='token',
            new_name='token_hash',
        ),
        ops.RunPython(hash_existing_tokens),
    ]
