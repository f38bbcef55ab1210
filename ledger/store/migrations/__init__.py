"""Alembic migrations of the store, run programmatically by `ledger.store.db.upgrade`.

There is no alembic.ini: `ledger.store.db.alembic_config()` points Alembic here.
To add revision 0002 after changing `ledger.store.rows` (review the result by hand;
revision files are named `rNNNN_<slug>.py` so that they are importable module names):

    from alembic import command
    from ledger.store.db import alembic_config, create_store_engine, upgrade_engine
    engine = create_store_engine("sqlite:////tmp/scratch.db")
    upgrade_engine(engine)                       # the scratch database at the old head
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message="what changed", autogenerate=True, rev_id="0002")

Then rename the generated `0002_<slug>.py` to `r0002_<slug>.py`. SQLite needs batch
operations for ALTERs; env.py renders them (`render_as_batch`). The migration test
(`tests/integration/store`) checks on both backends that head matches the models.
"""
