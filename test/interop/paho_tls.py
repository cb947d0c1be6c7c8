#!/usr/bin/python3
"""Connect with Eclipse Paho over TLS (client.tls_set), subscribe to TOPIC, publish one message to
it and print it when it comes back.

Usage: /usr/bin/python3 paho_tls.py HOST PORT TOPIC --ca CA [--cert CRT --key KEY]
                                    [--protocol 311|5] [--timeout SECONDS]

The server certificate is checked against CA and HOST (paho's defaults: CERT_REQUIRED and host
name checking). --cert/--key present a client certificate (for require_certificate listeners).

Prints "Connected", then "Subscribed to TOPIC", then "Received TOPIC: PAYLOAD" and exits 0.
Exits 1 if the CONNECT is refused, 2 on timeout, 3 if the SUBACK refuses the subscription
(printing "Subscription refused: CODE" on stderr). Works with paho-mqtt 1.6 (Debian's
python3-paho-mqtt) and 2.x.
"""
import argparse
import sys

from paho_compat import code_of, new_client, run_until_done

parser = argparse.ArgumentParser()
parser.add_argument("host")
parser.add_argument("port", type=int)
parser.add_argument("topic")
parser.add_argument("--ca", required=True)
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--protocol", choices=["311", "5"], default="311")
parser.add_argument("--timeout", type=float, default=15.0)
args = parser.parse_args()

PAYLOAD = "hello over tls from paho"
exit_code = 0



def stop(code):
    global exit_code
    exit_code = code
    client.disconnect()


def on_connected(client, rc):
    if rc != 0:
        print(f"Connection refused: {rc}", file=sys.stderr, flush=True)
        stop(1)
        return
    print("Connected", flush=True)
    client.subscribe(args.topic, qos=1)


def on_subscribe(client, userdata, mid, granted, *rest):
    # 3.1.1 granted QoS / v5 reason codes: 0x80 and above is a refusal.
    codes = [code_of(rc) for rc in granted]
    if any(c >= 0x80 for c in codes):
        print(f"Subscription refused: {', '.join(str(c) for c in codes)}", file=sys.stderr, flush=True)
        stop(3)
        return
    print(f"Subscribed to {args.topic}", flush=True)
    client.publish(args.topic, PAYLOAD, qos=1)


def on_message(client, userdata, msg):
    print(f"Received {msg.topic}: {msg.payload.decode()}", flush=True)
    stop(0)


client = new_client(args.protocol, on_connected)
client.tls_set(ca_certs=args.ca, certfile=args.cert, keyfile=args.key)
client.on_subscribe = on_subscribe
client.on_message = on_message


def give_up():
    print(f"Timed out after {args.timeout} s", file=sys.stderr, flush=True)
    stop(2)


run_until_done(client, args.host, args.port, args.timeout, give_up)
sys.exit(exit_code)
