package relevo.interop;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.pulsar.client.api.Consumer;
import org.apache.pulsar.client.api.Message;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.Schema;
import org.apache.pulsar.client.api.SubscriptionInitialPosition;
import org.apache.pulsar.client.api.SubscriptionType;
import org.apache.pulsar.client.api.schema.GenericRecord;

/**
 * AutoConsume serviceUrl topic subscription count [timeoutSeconds]
 *
 * Reads `count` messages from the earliest position with Schema.AUTO_CONSUME() (the topic's
 * registered writer schema, fetched per schema version) and prints each as one JSON line:
 * {"key","eventTime","publishTime","schemaVersion","properties","value":{fields…}}.
 * Exits 2 if a message does not arrive within the timeout (default 30 s).
 */
public final class AutoConsume {
  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println("usage: AutoConsume <serviceUrl> <topic> <subscription> <count> [timeoutSeconds]");
      System.exit(64);
    }
    String serviceUrl = args[0];
    String topic = args[1];
    String subscription = args[2];
    int count = Integer.parseInt(args[3]);
    int timeoutSeconds = args.length > 4 ? Integer.parseInt(args[4]) : 30;

    int status = 0;
    try (PulsarClient client = PulsarClient.builder().serviceUrl(serviceUrl).build();
         Consumer<GenericRecord> consumer = client.newConsumer(Schema.AUTO_CONSUME())
             .topic(topic)
             .subscriptionName(subscription)
             .subscriptionType(SubscriptionType.Exclusive)
             .subscriptionInitialPosition(SubscriptionInitialPosition.Earliest)
             .subscribe()) {
      for (int i = 0; i < count; i++) {
        Message<GenericRecord> msg = consumer.receive(timeoutSeconds, TimeUnit.SECONDS);
        if (msg == null) {
          System.err.printf("AutoConsume: timed out after %d s waiting for message %d of %d on %s%n",
              timeoutSeconds, i + 1, count, topic);
          status = 2;
          break;
        }
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("key", msg.hasKey() ? msg.getKey() : null);
        line.put("eventTime", msg.getEventTime());
        line.put("publishTime", msg.getPublishTime());
        line.put("schemaVersion", schemaVersion(msg.getSchemaVersion()));
        line.put("properties", new TreeMap<>(msg.getProperties()));
        line.put("value", Json.record(msg.getValue(), false));
        System.out.println(Json.write(line));
        System.out.flush();
        consumer.acknowledge(msg);
      }
    }
    System.exit(status);
  }

  /** Pulsar's schema version is an 8-byte big-endian long. */
  private static Object schemaVersion(byte[] v) {
    if (v == null) return null;
    if (v.length != 8) return java.util.HexFormat.of().formatHex(v);
    return java.nio.ByteBuffer.wrap(v).getLong();
  }
}
