"""ShaleDB: DynamoDB's data model and API as an embeddable library on its own LSM-tree engine.

``engine.connect(path, **options)`` opens a database and returns a boto3-shaped client
(see engine/client.py).
"""

from engine.client import connect

__all__ = ["connect"]
