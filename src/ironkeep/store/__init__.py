"""The store: SQLAlchemy Core on SQLite (embedded default) or PostgreSQL.

``Store.open(url, schema=None)`` connects; ``store.migrate()`` brings the database up to date with
Alembic (one history for both dialects, configured in code); ``store.transaction(write=...)`` is
one database transaction per API call, committed on success and rolled back on any exception.

One module per aggregate holds its repository functions, each taking the transaction first:
``accounts``, ``users``, ``groups``, ``roles``, ``policies`` (managed policies, versions,
attachments), ``inline_policies``, ``access_keys``, ``login_profiles``, ``tags``,
and ``principals`` (what authorization needs, in a fixed number of queries). Instance profiles
are the IAM service's own (services/iam_instance_profiles.py). The tables are in ``schema``;
every difference between the two databases is in ``dialect``.
"""

from ironkeep.store.database import MIGRATIONS, Store

__all__ = ["MIGRATIONS", "Store"]
