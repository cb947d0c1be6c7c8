"""Connects once and prints what paho's on_connect is told, the way the chapter's example does:
`on_connect: CODE NAME` and, for MQTT 5, the server's reason string. Exits 0 once on_connect ran.
Usage: paho_connect_reason.py HOST PORT CLIENT_ID --protocol 311|5"""
import argparse
import sys

import paho.mqtt.client as mqtt

from paho_compat import code_of

parser = argparse.ArgumentParser()
parser.add_argument("host")
parser.add_argument("port", type=int)
parser.add_argument("client_id")
parser.add_argument("--protocol", choices=["311", "5"], default="5")
args = parser.parse_args()
v5 = args.protocol == "5"
protocol = mqtt.MQTTv5 if v5 else mqtt.MQTTv311

if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=args.client_id, protocol=protocol)
else:  # paho-mqtt 1.6 (Debian's)
    client = mqtt.Client(client_id=args.client_id, protocol=protocol)


def on_connect(client, userdata, flags, rc, properties=None):
    code = code_of(rc)
    name = str(rc) if v5 else mqtt.connack_string(code)
    reason = getattr(properties, "ReasonString", None) if properties is not None else None
    print(f"on_connect: {code} {name}" + (f" ({reason})" if reason else ""), flush=True)
    client.disconnect()


client.on_connect = on_connect
client.connect(args.host, args.port, keepalive=60)
client.loop_forever(retry_first_connection=False)
sys.exit(0)
