"""Control plane: CreateTable, DescribeTable, ListTables, UpdateTable, DeleteTable, tags,
DescribeLimits, DescribeEndpoints."""

import datetime

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import make_table, raises


def error(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_create_table_reply_is_creating_then_describe_is_active(ddb):
    reply = ddb.create_table(
        TableName="orders",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7},
        Tags=[{"Key": "team", "Value": "core"}],
        TableClass="STANDARD_INFREQUENT_ACCESS",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    desc = reply["TableDescription"]
    assert desc["TableStatus"] == "CREATING"
    assert desc["TableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/orders"
    assert isinstance(desc["CreationDateTime"], datetime.datetime)
    t = ddb.describe_table(TableName="orders")["Table"]
    assert t["TableStatus"] == "ACTIVE"
    assert t["ProvisionedThroughput"] == {
        "NumberOfDecreasesToday": 0,
        "ReadCapacityUnits": 5,
        "WriteCapacityUnits": 7,
    }
    assert t["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert t["TableClassSummary"] == {"TableClass": "STANDARD_INFREQUENT_ACCESS"}
    assert t["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert t["LatestStreamArn"].startswith(t["TableArn"] + "/stream/")
    assert t["KeySchema"][1] == {"AttributeName": "sk", "KeyType": "RANGE"}
    assert t["ItemCount"] == 0 and t["TableSizeBytes"] == 0
    assert t["DeletionProtectionEnabled"] is False


def test_item_count_and_size_follow_writes(ddb, table):
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "abc"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"N": "2"}})
    t = ddb.describe_table(TableName=table)["Table"]
    # pk(2)+a(1) + sk(2)+1(number: 2) + x(1)+abc(3) = 11; second item 2+1+2+2 = 7
    assert (t["ItemCount"], t["TableSizeBytes"]) == (2, 18)
    ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
    t = ddb.describe_table(TableName=table)["Table"]
    assert (t["ItemCount"], t["TableSizeBytes"]) == (1, 7)


def test_pay_per_request_describes_zero_throughput(ddb, simple):
    t = ddb.describe_table(TableName=simple)["Table"]
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert "LastUpdateToPayPerRequestDateTime" in t["BillingModeSummary"]


def test_create_existing_table_is_resource_in_use(ddb, simple):
    with raises("ResourceInUseException") as e:
        make_table(ddb, simple, range_type=None)
    assert error(e) == ("ResourceInUseException", "Table already exists: simple")


def test_describe_missing_table(ddb):
    with raises("ResourceNotFoundException") as e:
        ddb.describe_table(TableName="nope")
    assert error(e)[1] == "Requested resource not found: Table: nope not found"


@pytest.mark.parametrize(
    "ks, ad, message",
    [
        (
            [{"AttributeName": "a", "KeyType": "RANGE"}],
            [{"AttributeName": "a", "AttributeType": "S"}],
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ),
        (
            [{"AttributeName": "a", "KeyType": "HASH"}],
            [{"AttributeName": "b", "AttributeType": "S"}],
            "One or more parameter values were invalid: Some index key attributes are not "
            "defined in AttributeDefinitions. Keys: [a], AttributeDefinitions: [b]",
        ),
        (
            [{"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "a", "KeyType": "RANGE"}],
            [{"AttributeName": "a", "AttributeType": "S"}],
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ),
        (
            [{"AttributeName": "a", "KeyType": "HASH"}],
            [
                {"AttributeName": "a", "AttributeType": "S"},
                {"AttributeName": "b", "AttributeType": "S"},
            ],
            "One or more parameter values were invalid: Number of attributes in key schema must "
            "match the number of attributes defined in attribute definitions.",
        ),
    ],
)
def test_create_table_key_schema_errors(ddb, ks, ad, message):
    with raises("ValidationException") as e:
        ddb.create_table(
            TableName="bad", KeySchema=ks, AttributeDefinitions=ad, BillingMode="PAY_PER_REQUEST"
        )
    assert error(e)[1] == message


def test_billing_mode_and_throughput_must_agree(ddb):
    ks = [{"AttributeName": "a", "KeyType": "HASH"}]
    ad = [{"AttributeName": "a", "AttributeType": "S"}]
    with raises("ValidationException") as e:
        ddb.create_table(TableName="bad", KeySchema=ks, AttributeDefinitions=ad)
    assert "must both be specified when BillingMode is PROVISIONED" in error(e)[1]
    with raises("ValidationException") as e:
        ddb.create_table(
            TableName="bad",
            KeySchema=ks,
            AttributeDefinitions=ad,
            BillingMode="PAY_PER_REQUEST",
            ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        )
    assert "can be specified when BillingMode is PAY_PER_REQUEST" in error(e)[1]


def test_table_name_constraints_use_dynamodb_wording(ddb):
    # boto3 checks the minimum length itself; the rest is the service's message.
    with raises("ValidationException") as e:
        ddb.describe_table(TableName="bad name!")
    assert error(e)[1] == (
        "1 validation error detected: Value 'bad name!' at 'tableName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    )
    with raises("ValidationException") as e:
        ddb.list_tables(Limit=101)
    assert "Member must have value less than or equal to 100" in error(e)[1]


def test_list_tables_is_sorted_and_paginated(ddb):
    names = [f"tab{i:02d}" for i in (5, 1, 9, 3, 7)]
    for n in names:
        make_table(ddb, n, range_type=None)
    assert ddb.list_tables()["TableNames"] == sorted(names)
    page = ddb.list_tables(Limit=2)
    assert page["TableNames"] == ["tab01", "tab03"]
    assert page["LastEvaluatedTableName"] == "tab03"
    page = ddb.list_tables(Limit=2, ExclusiveStartTableName="tab03")
    assert page["TableNames"] == ["tab05", "tab07"]
    last = ddb.list_tables(Limit=2, ExclusiveStartTableName="tab07")
    assert last["TableNames"] == ["tab09"] and "LastEvaluatedTableName" not in last
    pages = list(ddb.get_paginator("list_tables").paginate(Limit=2))
    assert [n for p in pages for n in p["TableNames"]] == sorted(names)


def test_delete_table_removes_items_and_name_can_be_reused(ddb, simple):
    ddb.put_item(TableName=simple, Item={"pk": {"S": "a"}})
    reply = ddb.delete_table(TableName=simple)
    assert reply["TableDescription"]["TableStatus"] == "DELETING"
    assert ddb.list_tables()["TableNames"] == []
    with raises("ResourceNotFoundException"):
        ddb.get_item(TableName=simple, Key={"pk": {"S": "a"}})
    make_table(ddb, simple, range_type=None)
    assert "Item" not in ddb.get_item(TableName=simple, Key={"pk": {"S": "a"}})


def test_deletion_protection_refuses_delete_until_disabled(ddb):
    make_table(ddb, "keep", range_type=None, DeletionProtectionEnabled=True)
    with raises("ResourceInUseException") as e:
        ddb.delete_table(TableName="keep")
    assert error(e)[1] == (
        "Resource cannot be deleted as it is currently protected against deletion. "
        "Disable deletion protection first."
    )
    ddb.update_table(TableName="keep", DeletionProtectionEnabled=False)
    assert ddb.describe_table(TableName="keep")["Table"]["DeletionProtectionEnabled"] is False
    ddb.delete_table(TableName="keep")


def test_update_table_throughput_and_billing_mode(ddb):
    make_table(
        ddb,
        "prov",
        range_type=None,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    with raises("ValidationException") as e:
        ddb.update_table(
            TableName="prov",
            ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
        )
    assert error(e)[1].startswith("The provisioned throughput for the table will not change.")
    ddb.update_table(
        TableName="prov", ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 2}
    )
    pt = ddb.describe_table(TableName="prov")["Table"]["ProvisionedThroughput"]
    assert (pt["ReadCapacityUnits"], pt["WriteCapacityUnits"]) == (10, 2)
    assert pt["NumberOfDecreasesToday"] == 1
    assert "LastIncreaseDateTime" in pt and "LastDecreaseDateTime" in pt
    ddb.update_table(TableName="prov", BillingMode="PAY_PER_REQUEST")
    t = ddb.describe_table(TableName="prov")["Table"]
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    with raises("ValidationException") as e:
        ddb.update_table(TableName="prov")
    assert error(e)[1].startswith("At least one of ProvisionedThroughput, BillingMode")


def test_tables_and_items_survive_reopen(tmp_path):
    import engine

    path = str(tmp_path / "db")
    with engine.connect(path, durability="sync") as ddb:
        make_table(ddb, "persist", range_type=None, Tags=[{"Key": "k", "Value": "v"}])
        ddb.put_item(TableName="persist", Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    with engine.connect(path) as ddb:
        assert ddb.list_tables()["TableNames"] == ["persist"]
        got = ddb.get_item(TableName="persist", Key={"pk": {"S": "a"}})["Item"]
        assert got == {"pk": {"S": "a"}, "v": {"N": "1"}}
        arn = ddb.describe_table(TableName="persist")["Table"]["TableArn"]
        assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
        assert ddb.describe_table(TableName="persist")["Table"]["ItemCount"] == 1


def test_tags(ddb, simple):
    arn = ddb.describe_table(TableName=simple)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "a", "Value": "1"},
        {"Key": "b", "Value": "2"},
    ]
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    missing = arn.replace("table/simple", "table/zzz")
    with raises("ResourceNotFoundException") as e:
        ddb.list_tags_of_resource(ResourceArn=missing)
    assert error(e)[1] == f"Requested resource not found: ResourcArn: {missing} not found"


def test_limits_and_endpoints(ddb):
    limits = ddb.describe_limits()
    assert limits["TableMaxReadCapacityUnits"] == 40000
    assert limits["AccountMaxWriteCapacityUnits"] == 80000
    endpoints = ddb.describe_endpoints()["Endpoints"]
    assert endpoints[0]["CachePeriodInMinutes"] == 1440


def test_errors_are_client_errors_with_boto3_shape(ddb):
    with pytest.raises(ClientError) as e:
        ddb.describe_table(TableName="nope")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.operation_name == "DescribeTable"


def test_mistakes_boto3_catches_client_side_raise_param_validation_error(ddb):
    from botocore.exceptions import ParamValidationError

    with raises("ValidationException"):
        ddb.describe_table(TableName="ab")  # a name or an ARN: boto3 checks only length >= 1
    with pytest.raises(ParamValidationError):
        ddb.put_item(TableName="abc")
    with pytest.raises(ParamValidationError):
        ddb.list_tables(Limit="3")
