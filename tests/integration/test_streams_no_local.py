# No Local on streams (SPEC 5, MQTT 5 3.8.3.1): a device that publishes to a group stream it
# reads with No Local does not get its own message, live or by replay at its next connect (the
# entry counts as acknowledged by it), without losing any entry before it that it did not
# acknowledge. Without No Local it gets its own message live once, and not again by replay.
# Real heraldd, paho 5.0 clients, a raw socket where an ack must be held back.
# Run with /usr/bin/python3 -m pytest.
import pytest
from helpers import *
from test_streams import device, group_world, payloads, read_all

pytestmark = pytest.mark.skipif(BROKER_KIND == "mosquitto", reason="streams are heraldd's")

NO_LOCAL = 0x04


def member(b, user, client_id):
    return device(b, user, client_id, password=f"{user}-pw")


def subscribe_group(c, no_local, filt="groups/devs/#"):
    assert c.subscribe([(filt, 1, {"no_local": no_local})]) == [1]


def test_no_local_own_group_message_is_not_replayed_at_next_connect(make_broker):
    b, _ = group_world(make_broker, ("ann", "ben"))
    ann = member(b, "ann", "ann-web")
    subscribe_group(ann, no_local=True)
    assert ann.publish("groups/devs/ann", "mine", qos=1) == 0
    ann.expect_no_message(timeout=0.7)  # No Local: not live
    ann.disconnect()
    ben = member(b, "ben", "ben-phone")
    assert ben.publish("groups/devs/ben", "theirs", qos=1) == 0
    again = member(b, "ann", "ann-web")  # same client id, clean start
    subscribe_group(again, no_local=True)
    assert payloads(read_all(again, 1)) == ["theirs"]
    again.disconnect()


def test_no_local_own_message_is_not_sent_when_the_next_one_arrives_live(make_broker):
    # The live path: the next entry from another member must not make the device read its own
    # one from the store.
    b, _ = group_world(make_broker, ("ann", "ben"))
    ann = member(b, "ann", "ann-web")
    subscribe_group(ann, no_local=True)
    ben = member(b, "ben", "ben-phone")
    assert ann.publish("groups/devs/ann", "mine", qos=1) == 0
    assert ben.publish("groups/devs/ben", "theirs", qos=1) == 0
    assert payloads(read_all(ann, 1)) == ["theirs"]
    ann.disconnect()
    again = member(b, "ann", "ann-web")
    subscribe_group(again, no_local=True)
    again.expect_no_message(timeout=0.7)


def test_without_no_local_own_message_comes_live_once_and_not_again(make_broker):
    b, _ = group_world(make_broker, ("ann", "ben"))
    ann = member(b, "ann", "ann-web")
    subscribe_group(ann, no_local=False)
    assert ann.publish("groups/devs/ann", "mine", qos=1) == 0
    assert payloads(read_all(ann, 1)) == ["mine"]
    ann.disconnect()
    ben = member(b, "ben", "ben-phone")
    assert ben.publish("groups/devs/ben", "theirs", qos=1) == 0
    again = member(b, "ann", "ann-web")
    subscribe_group(again, no_local=False)
    assert payloads(read_all(again, 1)) == ["theirs"]
    again.disconnect()


def test_another_subscription_without_no_local_still_gets_it(make_broker):
    # No Local is per subscription: a second matching one without it gets the message (once),
    # and the device's ack moves its cursor as usual.
    b, _ = group_world(make_broker, ("ann", "ben"))
    ann = member(b, "ann", "ann-web")
    assert ann.subscribe([("groups/devs/#", 1, {"no_local": True}), ("groups/+/#", 1, {"no_local": False})]) == [1, 1]
    assert ann.publish("groups/devs/ann", "mine", qos=1) == 0
    assert payloads(read_all(ann, 1)) == ["mine"]
    ann.disconnect()
    again = member(b, "ann", "ann-web")
    subscribe_group(again, no_local=True)
    again.expect_no_message(timeout=0.7)


def test_own_message_never_skips_an_earlier_unacknowledged_one(make_broker):
    b, _ = group_world(make_broker, ("ann", "ben"))
    ben = member(b, "ben", "ben-phone")
    r = RawClient(b)
    r.connect(client_id="ann-raw", username="ann", password="ann-pw")
    r.send(subscribe_packet([("groups/devs/#", 1 | NO_LOCAL)]))
    r.expect_packet(SUBACK)
    assert ben.publish("groups/devs/ben", "unacked", qos=1) == 0
    got = parse_publish(*r.expect_packet(PUBLISH))
    assert got["payload"] == b"unacked"  # ... and never acknowledged
    r.send(publish_packet("groups/devs/ann", "mine", qos=1, packet_id=7))
    _, body = r.expect_packet(PUBACK)
    assert body[:2] == b"\x00\x07"
    with pytest.raises(TimeoutError):  # not its own message
        r.recv_packet(timeout=0.5)
    r.send(disconnect_packet())
    r.close()
    # "unacked" comes again; "mine" does not.
    again = member(b, "ann", "ann-raw")
    subscribe_group(again, no_local=True)
    assert payloads(read_all(again, 1)) == ["unacked"]
    again.disconnect()
    # That ack moved the cursor past "mine" too: nothing next time.
    third = member(b, "ann", "ann-raw")
    subscribe_group(third, no_local=True)
    third.expect_no_message(timeout=0.7)


def test_own_message_under_a_narrower_no_local_filter_is_not_replayed_later(make_broker):
    # Not reading the stream when it published (only a narrower No Local filter): a later
    # covering subscription does not replay the device's own message either.
    b, _ = group_world(make_broker, ("ann", "ben"))
    ann = member(b, "ann", "ann-web")
    subscribe_group(ann, no_local=True, filt="groups/devs/ann")
    assert ann.publish("groups/devs/ann", "mine", qos=1) == 0
    ann.expect_no_message(timeout=0.5)
    ben = member(b, "ben", "ben-phone")
    assert ben.publish("groups/devs/ben", "theirs", qos=1) == 0
    subscribe_group(ann, no_local=True)
    assert payloads(read_all(ann, 1)) == ["theirs"]
