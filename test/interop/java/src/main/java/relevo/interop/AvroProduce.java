package relevo.interop;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pulsar.client.api.MessageId;
import org.apache.pulsar.client.api.Producer;
import org.apache.pulsar.client.api.PulsarClient;
import org.apache.pulsar.client.api.Schema;
import org.apache.pulsar.client.api.schema.SchemaDefinition;

/**
 * AvroProduce serviceUrl topic count
 *
 * Simulates the external gestion-de-alianzas producer: `count` Avro messages, written with
 * Schema.AVRO from the explicit JSON schema below (values are POJOs), batching on (all sent
 * asynchronously, then flushed, so they share batches). Prints, per message in send order,
 * one JSON line: {"key","eventTime","properties","messageId","value":{…}}.
 */
public final class AvroProduce {
  /** The envelope of the event contract (id, time, specversion, type, datacontenttype, service_name, data). */
  static final String SCHEMA_JSON = """
      {
        "type": "record",
        "name": "EventoAlianza",
        "namespace": "gestion_de_alianzas.v1",
        "fields": [
          { "name": "id", "type": { "type": "string", "logicalType": "uuid" } },
          { "name": "time", "type": { "type": "long", "logicalType": "timestamp-millis" } },
          { "name": "specversion", "type": "string", "default": "v1" },
          { "name": "type", "type": "string" },
          { "name": "datacontenttype", "type": "string", "default": "AVRO" },
          { "name": "service_name", "type": "string", "default": "gestion-de-alianzas" },
          { "name": "data", "type": {
              "type": "record",
              "name": "AlianzaCreadaData",
              "fields": [
                { "name": "alianza_id", "type": "string" },
                { "name": "partner_id", "type": "string" },
                { "name": "nombre", "type": "string" },
                { "name": "comision_bps", "type": "int" },
                { "name": "monto_minimo", "type": "double" },
                { "name": "activa", "type": "boolean" },
                { "name": "vigente_hasta", "type": ["null", "long"], "default": null },
                { "name": "etiquetas", "type": { "type": "array", "items": "string" }, "default": [] }
              ]
            } }
        ]
      }
      """;

  /** POJOs the reflect writer reads; field names match the JSON schema. */
  public static final class EventoAlianza {
    public String id;
    public long time;
    public String specversion = "v1";
    public String type;
    public String datacontenttype = "AVRO";
    public String service_name = "gestion-de-alianzas";
    public AlianzaCreadaData data;
  }

  public static final class AlianzaCreadaData {
    public String alianza_id;
    public String partner_id;
    public String nombre;
    public int comision_bps;
    public double monto_minimo;
    public boolean activa;
    public Long vigente_hasta;
    public List<String> etiquetas = new ArrayList<>();
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: AvroProduce <serviceUrl> <topic> <count>");
      System.exit(64);
    }
    String serviceUrl = args[0];
    String topic = args[1];
    int count = Integer.parseInt(args[2]);

    // The builder refuses a POJO and a JSON definition together: the JSON definition is the
    // schema, and Avro's reflect writer reads the POJO's fields by name.
    Schema<EventoAlianza> schema = Schema.AVRO(SchemaDefinition.<EventoAlianza>builder()
        .withJsonDef(SCHEMA_JSON)
        .withAlwaysAllowNull(false)
        .build());

    long baseTime = System.currentTimeMillis() - 60_000;
    List<Map<String, Object>> lines = new ArrayList<>();
    List<CompletableFuture<MessageId>> sends = new ArrayList<>();
    try (PulsarClient client = PulsarClient.builder().serviceUrl(serviceUrl).build();
         Producer<EventoAlianza> producer = client.newProducer(schema)
             .topic(topic)
             .producerName("gestion-de-alianzas-java")
             .enableBatching(true)
             .batchingMaxMessages(100)
             .batchingMaxPublishDelay(50, TimeUnit.MILLISECONDS)
             .sendTimeout(30, TimeUnit.SECONDS)
             .create()) {
      for (int i = 0; i < count; i++) {
        EventoAlianza e = new EventoAlianza();
        e.id = UUID.randomUUID().toString();
        e.time = baseTime + i * 1_000L;
        e.type = "AlianzaCreada";
        e.data = new AlianzaCreadaData();
        e.data.alianza_id = "ali-" + i;
        e.data.partner_id = "partner-" + (i % 3);
        e.data.nombre = "Alianza ñandú #" + i + " \"quoted\"";
        e.data.comision_bps = 150 + i;
        e.data.monto_minimo = 1000.25 + i;
        e.data.activa = i % 2 == 0;
        e.data.vigente_hasta = i % 2 == 0 ? null : 1_893_456_000_000L + i; // 2030-01-01 + i ms
        for (int t = 0; t < i % 3; t++) e.data.etiquetas.add("tag-" + t);

        Map<String, String> properties = new TreeMap<>();
        properties.put("origin", "gestion-de-alianzas");
        properties.put("seq", Integer.toString(i));
        sends.add(producer.newMessage()
            .key(e.data.partner_id)
            .eventTime(e.time)
            .properties(properties)
            .value(e)
            .sendAsync());

        Map<String, Object> data = new LinkedHashMap<>();
        data.put("alianza_id", e.data.alianza_id);
        data.put("partner_id", e.data.partner_id);
        data.put("nombre", e.data.nombre);
        data.put("comision_bps", e.data.comision_bps);
        data.put("monto_minimo", e.data.monto_minimo);
        data.put("activa", e.data.activa);
        data.put("vigente_hasta", e.data.vigente_hasta);
        data.put("etiquetas", e.data.etiquetas);
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("id", e.id);
        value.put("time", e.time);
        value.put("specversion", e.specversion);
        value.put("type", e.type);
        value.put("datacontenttype", e.datacontenttype);
        value.put("service_name", e.service_name);
        value.put("data", data);
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("key", e.data.partner_id);
        line.put("eventTime", e.time);
        line.put("properties", properties);
        line.put("value", value);
        lines.add(line);
      }
      producer.flush();
      for (int i = 0; i < count; i++) {
        MessageId id = sends.get(i).get(30, TimeUnit.SECONDS);
        lines.get(i).put("messageId", id.toString());
        System.out.println(Json.write(lines.get(i)));
      }
      System.out.flush();
    }
  }
}
