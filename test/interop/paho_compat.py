"""What the paho test scripts share: a client that works with paho-mqtt 1.6 (Debian's
python3-paho-mqtt) and 2.x, whose connect callback gets a plain int code, and a run with a deadline."""
import threading

import paho.mqtt.client as mqtt


def code_of(rc):
    """An int from whatever paho hands over: int (1.6, 3.1.1), ReasonCodes (1.6, v5) or ReasonCode (2.x)."""
    return rc if isinstance(rc, int) else rc.value


def new_client(protocol_flag, on_connected):
    """A client for "311" or "5" whose on_connect calls on_connected(client, code), 0 = accepted."""
    protocol = mqtt.MQTTv5 if protocol_flag == "5" else mqtt.MQTTv311
    if hasattr(mqtt, "CallbackAPIVersion"):  # paho-mqtt 2.x
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", protocol=protocol)

        def on_connect(client, userdata, flags, reason_code, properties):
            on_connected(client, 0 if not reason_code.is_failure else reason_code.value)

    else:  # paho-mqtt 1.6: (client, userdata, flags, rc) for 3.1.1, plus properties for MQTT 5
        client = mqtt.Client(client_id="", protocol=protocol)

        def on_connect(client, userdata, flags, rc, properties=None):
            on_connected(client, code_of(rc))

    client.on_connect = on_connect
    return client


def run_until_done(client, host, port, timeout, give_up):
    """Connects and runs the network loop until the client disconnects; give_up() is called (on
    another thread) if that has not happened after timeout seconds."""
    timer = threading.Timer(timeout, give_up)
    timer.daemon = True
    timer.start()
    client.connect(host, port, keepalive=60)
    client.loop_forever()
    timer.cancel()
