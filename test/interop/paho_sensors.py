#!/usr/bin/python3
"""Subscribe to sensors/# with Eclipse Paho and print every message (the chapter's sensor pattern).

Usage: /usr/bin/python3 paho_sensors.py HOST PORT COUNT [--protocol 311|5] [--timeout SECONDS]

Prints "Subscribed to sensors/#" once the broker has acknowledged the subscription, then one line
"Topic: {topic}, Payload: {payload}" per message; exits 0 after COUNT messages, 2 on timeout,
1 if the connection is refused. Works with paho-mqtt 1.6 (Debian's python3-paho-mqtt) and 2.x.
"""
import argparse
import sys

from paho_compat import new_client, run_until_done

parser = argparse.ArgumentParser()
parser.add_argument("host")
parser.add_argument("port", type=int)
parser.add_argument("count", type=int)
parser.add_argument("--protocol", choices=["311", "5"], default="311")
parser.add_argument("--timeout", type=float, default=20.0)
args = parser.parse_args()

received = 0
exit_code = 0


def on_connected(client, rc):
    global exit_code
    if rc != 0:
        print(f"Connection refused: {rc}", file=sys.stderr, flush=True)
        exit_code = 1
        client.disconnect()
        return
    client.subscribe("sensors/#")


def on_subscribe(client, userdata, mid, *rest):
    print("Subscribed to sensors/#", flush=True)


def on_message(client, userdata, msg):
    global received
    print(f"Topic: {msg.topic}, Payload: {msg.payload.decode()}", flush=True)
    received += 1
    if received >= args.count:
        client.disconnect()


client = new_client(args.protocol, on_connected)
client.on_subscribe = on_subscribe
client.on_message = on_message


def give_up():
    global exit_code
    print(f"Timed out after {args.timeout} s with {received} of {args.count} messages", file=sys.stderr, flush=True)
    exit_code = 2
    client.disconnect()


run_until_done(client, args.host, args.port, args.timeout, give_up)
sys.exit(exit_code)
