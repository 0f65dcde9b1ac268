package relevo.interop;

import java.lang.reflect.Modifier;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.LocalDate;
import java.util.Base64;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.pulsar.client.api.schema.Field;
import org.apache.pulsar.client.api.schema.GenericRecord;

/** A minimal JSON writer (no dependency beyond the Pulsar client), one value per call. */
final class Json {
  private Json() {}

  static String write(Object v) {
    StringBuilder sb = new StringBuilder();
    write(sb, v);
    return sb.toString();
  }

  /**
   * A GenericRecord as an ordered map of its fields, recursively; nested records also carry
   * "@record", the Avro full name of the record (so a union's branch can be checked).
   */
  static Map<String, Object> record(GenericRecord r, boolean withName) {
    Map<String, Object> out = new LinkedHashMap<>();
    if (withName) out.put("@record", avroFullName(r));
    for (Field f : r.getFields()) out.put(f.getName(), value(r.getField(f)));
    return out;
  }

  static Object value(Object v) {
    if (v instanceof GenericRecord) return record((GenericRecord) v, true);
    return v;
  }

  /** The native object is the (shaded) Avro record; its schema name is read reflectively. */
  private static String avroFullName(GenericRecord r) {
    try {
      Object schema = invokePublic(r.getNativeObject(), "getSchema");
      return (String) invokePublic(schema, "getFullName");
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  /** Avro's concrete Schema subclasses are private: call the method as declared on a public class. */
  private static Object invokePublic(Object target, String name) throws ReflectiveOperationException {
    for (Class<?> c = target.getClass(); c != null; c = c.getSuperclass()) {
      if (Modifier.isPublic(c.getModifiers())) return c.getMethod(name).invoke(target);
    }
    throw new NoSuchMethodException(name);
  }

  @SuppressWarnings("unchecked")
  private static void write(StringBuilder sb, Object v) {
    if (v == null) {
      sb.append("null");
    } else if (v instanceof GenericRecord) {
      write(sb, record((GenericRecord) v, true));
    } else if (v instanceof Map) {
      sb.append('{');
      boolean first = true;
      for (Map.Entry<Object, Object> e : ((Map<Object, Object>) v).entrySet()) {
        if (!first) sb.append(',');
        first = false;
        string(sb, String.valueOf(e.getKey()));
        sb.append(':');
        write(sb, e.getValue());
      }
      sb.append('}');
    } else if (v instanceof Collection) {
      sb.append('[');
      boolean first = true;
      for (Object item : (Collection<Object>) v) {
        if (!first) sb.append(',');
        first = false;
        write(sb, item);
      }
      sb.append(']');
    } else if (v instanceof Boolean || v instanceof Integer || v instanceof Long || v instanceof Short) {
      sb.append(v);
    } else if (v instanceof Double || v instanceof Float) {
      double d = ((Number) v).doubleValue();
      if (Double.isFinite(d)) sb.append(v); else string(sb, v.toString());
    } else if (v instanceof Instant) {
      sb.append(((Instant) v).toEpochMilli()); // timestamp-millis, if a conversion produced one
    } else if (v instanceof LocalDate) {
      sb.append(((LocalDate) v).toEpochDay());
    } else if (v instanceof ByteBuffer) {
      ByteBuffer b = ((ByteBuffer) v).duplicate();
      byte[] bytes = new byte[b.remaining()];
      b.get(bytes);
      string(sb, Base64.getEncoder().encodeToString(bytes));
    } else if (v instanceof byte[]) {
      string(sb, Base64.getEncoder().encodeToString((byte[]) v));
    } else {
      string(sb, v.toString()); // CharSequence (Avro Utf8), UUID, enum symbols
    }
  }

  private static void string(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': sb.append("\\\""); break;
        case '\\': sb.append("\\\\"); break;
        case '\n': sb.append("\\n"); break;
        case '\r': sb.append("\\r"); break;
        case '\t': sb.append("\\t"); break;
        default:
          if (c < 0x20) sb.append(String.format("\\u%04x", (int) c)); else sb.append(c);
      }
    }
    sb.append('"');
  }
}
