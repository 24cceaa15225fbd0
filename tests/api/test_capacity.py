"""Provisioned throughput: 300 seconds of burst, then ProvisionedThroughputExceededException."""

from engine.errors import ProvisionedThroughputExceededException
from tests.api.conftest import embedded_only, make_table, raises


def test_writes_throttle_after_the_burst_and_error_is_retryable(ddb):
    make_table(
        ddb,
        "prov",
        range_type=None,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 2},
    )
    ok = 0
    with raises("ProvisionedThroughputExceededException") as e:
        for i in range(1000):
            ddb.put_item(TableName="prov", Item={"pk": {"S": str(i)}})
            ok += 1
    # 2 WCU x 300 s of burst, plus what refilled while the loop ran (well under a minute).
    assert 600 <= ok < 700
    if hasattr(ddb, "service"):  # the embedded client's errors are engine.errors classes too
        assert isinstance(e.value, ProvisionedThroughputExceededException)
        assert e.value.retryable is True
    assert e.value.response["Error"]["Message"].startswith(
        "The level of configured provisioned throughput for the table was exceeded."
    )
    # Reads have their own bucket.
    ddb.get_item(TableName="prov", Key={"pk": {"S": "0"}})


def test_raising_throughput_lets_writes_through(ddb):
    make_table(
        ddb,
        "prov",
        range_type=None,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    big = "x" * 100_000  # 98 units a write
    with raises("ProvisionedThroughputExceededException"):
        for i in range(10):
            ddb.put_item(TableName="prov", Item={"pk": {"S": str(i)}, "v": {"S": big}})
    ddb.update_table(TableName="prov", BillingMode="PAY_PER_REQUEST")
    for i in range(10):
        ddb.put_item(TableName="prov", Item={"pk": {"S": str(i)}, "v": {"S": big}})


@embedded_only
def test_on_demand_tables_meter_what_they_consume(ddb):
    service = ddb.service  # metering is read through the embedded service
    make_table(ddb, "meter", range_type=None)
    ddb.put_item(TableName="meter", Item={"pk": {"S": "a"}, "v": {"S": "x" * 1500}})
    ddb.get_item(TableName="meter", Key={"pk": {"S": "a"}}, ConsistentRead=True)
    ddb.get_item(TableName="meter", Key={"pk": {"S": "a"}})
    assert service.consumed_units("meter") == {"read": 1.5, "write": 2.0}
