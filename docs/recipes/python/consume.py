#!/usr/bin/env python3
"""Print the records of BitPredict topics as JSON lines (docs/topics.md), Debian packages only.

apt install python3-confluent-kafka python3-avro. A value is Avro in the Confluent wire format
(byte 0 = 0, bytes 1-4 = big-endian schema id, then the Avro body); the writer schema is fetched
by id from the registry's Confluent-compatible API, once. Timestamps stay epoch milliseconds.
A record that cannot be decoded is reported on stderr with its offset and skipped.
"""
import argparse, base64, io, json, os, ssl, struct, sys, time, urllib.error, urllib.request
import avro.io, avro.schema
from confluent_kafka import Consumer, KafkaError

env = os.environ.get
p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--bootstrap", default=env("BITPREDICT_KAFKA_BROKERS", "127.0.0.1:9092"))
p.add_argument("--registry", default=env("BITPREDICT_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7"))
p.add_argument("--registry-user", default=env("BITPREDICT_REGISTRY_USERNAME", ""))
p.add_argument("--registry-password-file", default=env("BITPREDICT_REGISTRY_PASSWORD_FILE", ""))
p.add_argument("--registry-ca", default=env("BITPREDICT_REGISTRY_SSL_CA_FILE") or None)
p.add_argument("--topic", action="append", required=True, help="full name with the prefix; repeatable")
p.add_argument("--group", help="a group of your own that commits (default: throwaway, from the start)")
p.add_argument("--max", type=int, default=0, help="exit after printing this many records")
p.add_argument("--end", action="store_true", help="exit at the end of every assigned partition")
p.add_argument("-X", action="append", default=[], metavar="KEY=VALUE", help="librdkafka setting")
a = p.parse_args()

auth = {}
if a.registry_user:
    pw = env("BITPREDICT_REGISTRY_PASSWORD") or (open(a.registry_password_file).read().removesuffix("\n") if a.registry_password_file else "")
    auth["Authorization"] = "Basic " + base64.b64encode(f"{a.registry_user}:{pw}".encode()).decode()
tls = ssl.create_default_context(cafile=a.registry_ca)
readers = {}  # schema id -> DatumReader of the writer schema

def plain_ms(o):  # timestamp-millis read as the long BitPredict writes, not a datetime
    return {k: v for k, v in o.items() if (k, v) != ("logicalType", "timestamp-millis")}

def reader(sid):
    if sid not in readers:
        req = urllib.request.Request(f"{a.registry.rstrip('/')}/schemas/ids/{sid}", headers=auth)
        try:
            with urllib.request.urlopen(req, timeout=10, context=tls) as r:
                schema = json.loads(json.load(r)["schema"], object_hook=plain_ms)
        except urllib.error.HTTPError as e:
            if e.code == 404 and b'"error_code":40403' in e.read().replace(b" ", b""):  # the API's "no such schema"
                raise ValueError(f"schema id {sid} is not in the registry at {a.registry}")
            if e.code == 404:
                sys.exit(f"consume.py: no Confluent-compatible API at {a.registry} (check --registry, path included: .../apis/ccompat/v7)")
            sys.exit(f"consume.py: registry {a.registry} answered HTTP {e.code} (check --registry-user, BITPREDICT_REGISTRY_PASSWORD[_FILE])")
        except (urllib.error.URLError, OSError) as e:
            sys.exit(f"consume.py: registry {a.registry}: {getattr(e, 'reason', e)} (check --registry, --registry-ca)")
        readers[sid] = avro.io.DatumReader(avro.schema.parse(json.dumps(schema)))
    return readers[sid]

def decode(v):
    if v is None or len(v) < 5 or v[0] != 0:
        raise ValueError(f"not the Confluent wire format: {'null' if v is None else f'{len(v)} bytes starting {v[:5].hex()}'}")
    body = io.BytesIO(v[5:])
    dec = reader(struct.unpack(">i", v[1:5])[0])
    try:
        out = dec.read(avro.io.BinaryDecoder(body))
    except Exception as e:
        raise ValueError(f"Avro body does not match schema id {struct.unpack('>i', v[1:5])[0]}: {type(e).__name__} {e}")
    if body.tell() != len(v) - 5:
        raise ValueError(f"{len(v) - 5 - body.tell()} bytes after the Avro body")
    return out

conf = {"bootstrap.servers": a.bootstrap, "group.id": a.group or f"consume-py-{os.getpid()}-{time.time_ns()}",
        "enable.auto.commit": bool(a.group), "auto.offset.reset": "earliest",
        "isolation.level": "read_committed", "enable.partition.eof": a.end}  # transactional topics
def kafka_error(e):  # librdkafka retries these for ever; a reader should stop and say why
    if e.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._AUTHENTICATION, KafkaError._SSL) or e.fatal():
        sys.exit(f"consume.py: Kafka at {a.bootstrap}: {e.str()} (check --bootstrap and the -X security settings)")

conf["error_cb"] = kafka_error
conf.update(kv.split("=", 1) for kv in a.X)
consumer, assigned, at_end, printed = Consumer(conf), set(), set(), 0
consumer.subscribe(a.topic, on_assign=lambda _, ps: assigned.update((q.topic, q.partition) for q in ps))
try:
    while not a.max or printed < a.max:
        m = consumer.poll(1.0)
        if m is None:
            continue
        where = (m.topic(), m.partition())
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(where)
                if assigned <= at_end:
                    break
            elif m.error().code() == KafkaError.UNKNOWN_TOPIC_OR_PART or m.error().fatal():
                sys.exit(f"consume.py: {m.error().str()} (check --topic, with the BITPREDICT_TOPIC_PREFIX prefix)")
            else:
                print(f"consume.py: {m.error().str()}", file=sys.stderr)
            continue
        at_end.discard(where)
        try:
            value = decode(m.value())
        except ValueError as e:
            print(f"consume.py: skipped {m.topic()} [{m.partition()}] @ {m.offset()}: {e}", file=sys.stderr, flush=True)
            continue
        key = None if m.key() is None else m.key().decode("utf-8", "replace")
        print(json.dumps({"topic": m.topic(), "partition": m.partition(), "offset": m.offset(), "key": key,
                          "timestamp": m.timestamp()[1], "value": value},
                         default=lambda b: base64.b64encode(b).decode()), flush=True)  # bytes (dlq) as base64
        printed += 1
except KeyboardInterrupt:
    pass
finally:
    consumer.close()
