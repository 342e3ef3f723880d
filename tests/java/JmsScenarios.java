import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import javax.jms.*;
import org.apache.activemq.ActiveMQConnection;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.ActiveMQSession;

/**
 * JMS scenarios run by the test suite against mqgate's OpenWire door with ActiveMQ's own
 * client. Usage: JmsScenarios URL SCENARIO NAME [ARGS...]. Each scenario prints
 * "key=value" lines that the Python side asserts on; any exception is printed as
 * "error=ExceptionClass: message" and the exit status is 1.
 */
public class JmsScenarios {
    static String url;
    static String name;
    static String[] extra;

    public static void main(String[] args) throws Exception {
        url = args[0];
        String scenario = args[1];
        name = args[2];
        extra = Arrays.copyOfRange(args, 3, args.length);
        Scenarios.run(() -> {
            switch (scenario) {
                case "types": types(); break;
                case "topic": topic(); break;
                case "send": send(); break;
                case "receive": receive(); break;
                case "acks": acks(); break;
                case "transactions": transactions(); break;
                case "durable": durable(); break;
                case "selectors": selectors(); break;
                case "temp": temp(); break;
                case "browse": browse(); break;
                case "expiry": expiry(); break;
                case "priority": priority(); break;
                case "groups": groups(); break;
                case "exclusive": exclusive(); break;
                case "pull": pull(); break;
                case "clientid": clientid(); break;
                case "object": object(); break;
                case "throughput": throughput(); break;
                case "failover": failover(); break;
                case "scheduled": scheduled(); break;
                case "responder": responder(); break;
                case "poison": poison(); break;
                case "security": security(); break;
                default: throw new IllegalArgumentException("unknown scenario " + scenario);
            }
        });
    }

    static Connection connect(String clientId) throws JMSException {
        ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(url);
        Connection c = factory.createConnection();
        if (clientId != null) c.setClientID(clientId);
        c.start();
        return c;
    }

    static void out(String key, Object value) {
        System.out.println(key + "=" + value);
    }

    static String describe(Message m) throws JMSException {
        if (m == null) return "null";
        StringBuilder b = new StringBuilder();
        if (m instanceof TextMessage) b.append("text:").append(((TextMessage) m).getText());
        else if (m instanceof BytesMessage) {
            BytesMessage bm = (BytesMessage) m;
            byte[] data = new byte[(int) bm.getBodyLength()];
            bm.readBytes(data);
            b.append("bytes:").append(Base64.getEncoder().encodeToString(data));
        } else if (m instanceof MapMessage) {
            MapMessage mm = (MapMessage) m;
            TreeMap<String, String> sorted = new TreeMap<>();
            for (Enumeration<?> e = mm.getMapNames(); e.hasMoreElements(); ) {
                String k = (String) e.nextElement();
                Object v = mm.getObject(k);
                sorted.put(k, typed(v));
            }
            b.append("map:").append(sorted);
        } else if (m instanceof StreamMessage) {
            StreamMessage sm = (StreamMessage) m;
            List<String> items = new ArrayList<>();
            try {
                while (true) items.add(typed(sm.readObject()));
            } catch (MessageEOFException e) {
                // end of stream
            }
            b.append("stream:").append(items);
        } else b.append("message");
        return b.toString();
    }

    static String typed(Object v) {
        if (v == null) return "null";
        if (v instanceof byte[]) return "byte[]:" + Base64.getEncoder().encodeToString((byte[]) v);
        return v.getClass().getSimpleName() + ":" + v;
    }

    static String props(Message m) throws JMSException {
        TreeMap<String, String> sorted = new TreeMap<>();
        for (Enumeration<?> e = m.getPropertyNames(); e.hasMoreElements(); ) {
            String k = (String) e.nextElement();
            if (k.startsWith("JMSX")) continue;
            sorted.put(k, typed(m.getObjectProperty(k)));
        }
        return sorted.toString();
    }

    static void setProps(Message m) throws JMSException {
        m.setBooleanProperty("pBool", true);
        m.setByteProperty("pByte", (byte) 7);
        m.setShortProperty("pShort", (short) 300);
        m.setIntProperty("pInt", 42);
        m.setLongProperty("pLong", 1234567890123L);
        m.setFloatProperty("pFloat", 1.5f);
        m.setDoubleProperty("pDouble", 3.25);
        m.setStringProperty("pString", "h\u00e9llo");
    }

    /** Every message type with typed properties through a queue, persistent and not. */
    static void types() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        MessageProducer p = s.createProducer(q);
        List<Message> sent = new ArrayList<>();
        sent.add(s.createTextMessage("hello JMS \u00e9\u00fc\u4e2d \u2713 \ud83d\ude00 nul\u0000 end"));
        BytesMessage bm = s.createBytesMessage();
        bm.writeBytes(new byte[] {0, 1, 2, (byte) 255, 0});
        sent.add(bm);
        MapMessage mm = s.createMapMessage();
        mm.setBoolean("a", true); mm.setByte("b", (byte) 1); mm.setChar("c", 'c');
        mm.setShort("d", (short) 2); mm.setInt("e", 3); mm.setLong("f", 4L);
        mm.setDouble("g", 2.5); mm.setFloat("h", 1.5f); mm.setString("i", "s");
        mm.setBytes("j", new byte[] {9, 8});
        sent.add(mm);
        StreamMessage sm = s.createStreamMessage();
        sm.writeBoolean(true); sm.writeInt(3); sm.writeString("s"); sm.writeDouble(2.5);
        sent.add(sm);
        sent.add(s.createMessage());
        int i = 0;
        for (Message m : sent) {
            setProps(m);
            m.setJMSCorrelationID("corr-" + i);
            m.setJMSType("type-" + i);
            p.setDeliveryMode(i % 2 == 0 ? DeliveryMode.PERSISTENT : DeliveryMode.NON_PERSISTENT);
            p.send(m);
            i++;
        }
        MessageConsumer consumer = s.createConsumer(q);
        for (int n = 0; n < sent.size(); n++) {
            Message m = consumer.receive(5000);
            out("body" + n, describe(m));
            if (m == null) continue;
            out("props" + n, props(m));
            out("headers" + n, m.getJMSCorrelationID() + "," + m.getJMSType() + "," + m.getJMSDeliveryMode()
                + "," + m.getJMSRedelivered() + "," + m.getIntProperty("JMSXDeliveryCount")
                + "," + m.getJMSMessageID().equals(sent.get(n).getJMSMessageID()));
        }
        out("extra", describe(consumer.receive(200)));
        c.close();
    }

    /** Two subscribers see every message published while they exist, a late one nothing. */
    static void topic() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Topic t = s.createTopic(name);
        MessageConsumer a = s.createConsumer(t);
        MessageConsumer b = s.createConsumer(t);
        MessageProducer p = s.createProducer(t);
        for (int i = 0; i < 3; i++) p.send(s.createTextMessage("m" + i));
        MessageConsumer late = s.createConsumer(t);
        StringBuilder got = new StringBuilder();
        for (MessageConsumer cons : new MessageConsumer[] {a, b}) {
            for (int i = 0; i < 3; i++) got.append(describe(cons.receive(5000))).append(';');
            got.append('|');
        }
        out("got", got);
        out("late", describe(late.receive(300)));
        c.close();
    }

    /** send NAME COUNT [persistent|non-persistent] [text]: send COUNT text messages to a queue. */
    static void send() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer p = s.createProducer(destination(s, name));
        int count = Integer.parseInt(extra[0]);
        p.setDeliveryMode(extra.length > 1 && extra[1].equals("non-persistent") ? DeliveryMode.NON_PERSISTENT : DeliveryMode.PERSISTENT);
        String text = extra.length > 2 ? extra[2] : "msg";
        if (text.equals("unicode")) text = "smile \ud83d\ude00 nul\u0000 end ";
        for (int i = 0; i < count; i++) {
            TextMessage m = s.createTextMessage(text + i);
            setProps(m);
            m.setIntProperty("seq", i);
            m.setJMSCorrelationID("corr-" + i);
            p.send(m);
        }
        out("sent", count);
        c.close();
    }

    static Destination destination(Session s, String n) throws JMSException {
        return n.startsWith("topic://") ? s.createTopic(n.substring(8)) : s.createQueue(n);
    }

    /** receive NAME COUNT [timeoutMs]: print what arrives (body, props, headers). */
    static void receive() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer consumer = s.createConsumer(destination(s, name));
        int count = Integer.parseInt(extra[0]);
        long timeout = extra.length > 1 ? Long.parseLong(extra[1]) : 5000;
        for (int i = 0; i < count; i++) {
            Message m = consumer.receive(timeout);
            out("body" + i, describe(m));
            if (m != null) {
                out("props" + i, props(m));
                out("headers" + i, m.getJMSCorrelationID() + "," + m.getJMSType() + "," + m.getJMSDeliveryMode()
                    + "," + m.getJMSPriority() + "," + m.getJMSRedelivered() + "," + m.getJMSReplyTo());
            }
        }
        c.close();
    }

    /** Client ack (unacked messages come back redelivered), individual ack, dups-ok. */
    static void acks() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        MessageProducer p = s.createProducer(q);
        for (int i = 0; i < 4; i++) p.send(s.createTextMessage("m" + i));

        Session client = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        MessageConsumer cc = client.createConsumer(q);
        Message first = cc.receive(5000);
        Message second = cc.receive(5000);
        out("client_first", describe(first) + "," + first.getJMSRedelivered());
        out("client_second", describe(second));
        client.close();   // nothing acked: both come back, marked redelivered

        Session client2 = c.createSession(false, Session.CLIENT_ACKNOWLEDGE);
        MessageConsumer cc2 = client2.createConsumer(q);
        Message again = cc2.receive(5000);
        out("redelivered", describe(again) + "," + again.getJMSRedelivered() + "," + again.getIntProperty("JMSXDeliveryCount"));
        Message again2 = cc2.receive(5000);
        again2.acknowledge();   // acks both
        client2.close();

        Session individual = c.createSession(false, ActiveMQSession.INDIVIDUAL_ACKNOWLEDGE);
        MessageConsumer ic = individual.createConsumer(q);
        Message i1 = ic.receive(5000);
        Message i2 = ic.receive(5000);
        i2.acknowledge();     // only m3
        // m2 was only prefetched by the first consumer, never given to its application.
        out("individual", describe(i1) + "," + i1.getJMSRedelivered() + "," + describe(i2));
        individual.close();   // m2 comes back

        Session dups = c.createSession(false, Session.DUPS_OK_ACKNOWLEDGE);
        MessageConsumer dc = dups.createConsumer(q);
        out("dups_ok", describe(dc.receive(5000)) + "," + describe(dc.receive(300)));
        dups.close();
        Session check = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        out("left", describe(check.createConsumer(q).receive(300)));
        c.close();
    }

    /** Transacted producer and consumer: rollback forgets, commit applies. */
    static void transactions() throws Exception {
        Connection c = connect(null);
        Session tx = c.createSession(true, Session.SESSION_TRANSACTED);
        Session plain = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = tx.createQueue(name);
        MessageProducer p = tx.createProducer(q);
        p.send(tx.createTextMessage("rolled-back"));
        tx.rollback();
        p.send(tx.createTextMessage("a"));
        p.send(tx.createTextMessage("b"));
        QueueBrowser browser = plain.createBrowser(q);
        out("visible_before_commit", Collections.list(browser.getEnumeration()).size());
        tx.commit();
        MessageConsumer consumer = tx.createConsumer(q);
        Message a = consumer.receive(5000);
        Message b = consumer.receive(5000);
        out("received", describe(a) + "," + describe(b));
        tx.rollback();
        Message a2 = consumer.receive(5000);
        Message b2 = consumer.receive(5000);
        out("after_rollback", describe(a2) + "," + a2.getJMSRedelivered() + "," + a2.getIntProperty("JMSXDeliveryCount") + "," + describe(b2));
        tx.commit();
        consumer.close();
        out("left", describe(plain.createConsumer(q).receive(300)));
        c.close();
    }

    /** A durable subscriber keeps messages while away; unsubscribe deletes it. */
    static void durable() throws Exception {
        String clientId = "cid-" + name;
        Connection c = connect(clientId);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Topic t = s.createTopic(name);
        TopicSubscriber sub = s.createDurableSubscriber(t, "sub1");
        MessageProducer p = s.createProducer(t);
        p.send(s.createTextMessage("online"));
        out("online", describe(sub.receive(5000)));
        sub.close();
        p.send(s.createTextMessage("offline"));
        c.close();
        if (extra.length > 0 && extra[0].equals("leave")) return;   // another client reads it
        Connection c2 = connect(clientId);
        Session s2 = c2.createSession(false, Session.AUTO_ACKNOWLEDGE);
        TopicSubscriber sub2 = s2.createDurableSubscriber(s2.createTopic(name), "sub1");
        out("offline", describe(sub2.receive(5000)));
        sub2.close();
        s2.unsubscribe("sub1");
        try {
            s2.unsubscribe("sub1");
            out("unsubscribe_again", "ok");
        } catch (JMSException e) {
            out("unsubscribe_again", e.getClass().getName());
        }
        c2.close();
    }

    /** Selectors on typed properties and headers; non-matching messages stay queued. */
    static void selectors() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        MessageProducer p = s.createProducer(q);
        for (int i = 0; i < 6; i++) {
            TextMessage m = s.createTextMessage("m" + i);
            m.setIntProperty("n", i);
            m.setStringProperty("color", i % 2 == 0 ? "red" : "blue");
            m.setJMSType(i < 3 ? "small" : "big");
            p.send(m);
        }
        MessageConsumer sel = s.createConsumer(q, "n > 2 AND color = 'red'");
        out("selected", describe(sel.receive(5000)) + "," + describe(sel.receive(300)));
        sel.close();
        MessageConsumer typed = s.createConsumer(q, "JMSType = 'small'");
        out("by_type", describe(typed.receive(5000)) + "," + describe(typed.receive(5000)) + "," + describe(typed.receive(5000)) + "," + describe(typed.receive(300)));
        typed.close();
        try {
            s.createConsumer(q, "n >>> 1");
            out("invalid", "accepted");
        } catch (InvalidSelectorException e) {
            out("invalid", "InvalidSelectorException");
        }
        c.close();
    }

    /** Request/reply over a temporary queue with a responder on another connection. */
    static void temp() throws Exception {
        Connection responder = connect(null);
        Session rs = responder.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer requests = rs.createConsumer(rs.createQueue(name));
        MessageProducer replies = rs.createProducer(null);
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        TemporaryQueue tq = s.createTemporaryQueue();
        MessageConsumer replyConsumer = s.createConsumer(tq);
        TextMessage request = s.createTextMessage("ping");
        request.setJMSReplyTo(tq);
        request.setJMSCorrelationID("req-1");
        s.createProducer(s.createQueue(name)).send(request);
        Message got = requests.receive(5000);
        out("request", describe(got) + "," + (got.getJMSReplyTo() instanceof TemporaryQueue));
        TextMessage reply = rs.createTextMessage("pong");
        reply.setJMSCorrelationID(got.getJMSCorrelationID());
        replies.send(got.getJMSReplyTo(), reply);
        Message r = replyConsumer.receive(5000);
        out("reply", describe(r) + "," + r.getJMSCorrelationID());
        TemporaryTopic tt = s.createTemporaryTopic();
        MessageConsumer tc = s.createConsumer(tt);
        s.createProducer(tt).send(s.createTextMessage("temp-topic"));
        out("temp_topic", describe(tc.receive(5000)));
        replyConsumer.close();
        tq.delete();
        try {
            replies.send(tq, rs.createTextMessage("late"));
            out("send_deleted", "accepted");
        } catch (JMSException e) {
            out("send_deleted", e.getClass().getSimpleName());
        }
        c.close();
        responder.close();
    }

    /** A browser sees everything in order and removes nothing; selectors apply. */
    static void browse() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        out("empty", Collections.list(s.createBrowser(q).getEnumeration()).size());
        MessageProducer p = s.createProducer(q);
        for (int i = 0; i < 5; i++) {
            TextMessage m = s.createTextMessage("m" + i);
            m.setIntProperty("n", i);
            p.send(m);
        }
        StringBuilder seen = new StringBuilder();
        for (Object o : Collections.list(s.createBrowser(q).getEnumeration())) seen.append(describe((Message) o)).append(';');
        out("browsed", seen);
        out("selected", Collections.list(s.createBrowser(q, "n >= 3").getEnumeration()).size());
        MessageConsumer consumer = s.createConsumer(q);
        int n = 0;
        while (consumer.receive(500) != null) n++;
        out("consumed", n);
        c.close();
    }

    /** Expired messages are never delivered, also from inside the prefetch buffer. */
    static void expiry() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        MessageProducer p = s.createProducer(q);
        p.send(s.createTextMessage("short"), DeliveryMode.PERSISTENT, 4, 300);
        p.send(s.createTextMessage("long"), DeliveryMode.PERSISTENT, 4, 600000);
        Thread.sleep(600);
        MessageConsumer consumer = s.createConsumer(q);
        out("first", describe(consumer.receive(5000)));
        out("second", describe(consumer.receive(300)));
        // Expiring while prefetched: dispatched at once, expired by the time it is read.
        MessageProducer p2 = s.createProducer(q);
        p2.send(s.createTextMessage("in-prefetch"), DeliveryMode.PERSISTENT, 4, 500);
        Thread.sleep(800);
        out("prefetched", describe(consumer.receive(300)));
        c.close();
    }

    /** Higher JMSPriority first, FIFO within a priority. */
    static void priority() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        MessageProducer p = s.createProducer(q);
        int[] priorities = {1, 9, 4, 9, 0, 7};
        for (int i = 0; i < priorities.length; i++) p.send(s.createTextMessage("m" + i + "p" + priorities[i]), DeliveryMode.PERSISTENT, priorities[i], 0);
        MessageConsumer consumer = s.createConsumer(q);
        StringBuilder order = new StringBuilder();
        for (int i = 0; i < priorities.length; i++) {
            Message m = consumer.receive(5000);
            order.append(((TextMessage) m).getText()).append(',').append(m.getJMSPriority()).append(';');
        }
        out("order", order);
        c.close();
    }

    /** All messages of a group go to the consumer that got the first one. */
    static void groups() throws Exception {
        Connection c = connect(null);
        Session s1 = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Session s2 = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s1.createQueue(name + "?consumer.prefetchSize=1");
        MessageConsumer a = s1.createConsumer(q);
        MessageConsumer b = s2.createConsumer(q);
        MessageProducer p = s1.createProducer(s1.createQueue(name));
        for (int i = 0; i < 6; i++) {
            TextMessage m = s1.createTextMessage("m" + i);
            m.setStringProperty("JMSXGroupID", i % 2 == 0 ? "even" : "odd");
            p.send(m);
        }
        Map<String, Set<String>> byConsumer = new TreeMap<>();
        for (int round = 0; round < 12; round++) {
            for (MessageConsumer cons : new MessageConsumer[] {a, b}) {
                Message m = cons.receive(100);
                if (m != null) byConsumer.computeIfAbsent(cons == a ? "a" : "b", k -> new TreeSet<>()).add(m.getStringProperty("JMSXGroupID"));
            }
        }
        out("groups", byConsumer);
        c.close();
    }

    /** An exclusive consumer gets everything while it is there. */
    static void exclusive() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer ordinary = s.createConsumer(s.createQueue(name));
        MessageConsumer exclusive = s.createConsumer(s.createQueue(name + "?consumer.exclusive=true"));
        MessageProducer p = s.createProducer(s.createQueue(name));
        for (int i = 0; i < 4; i++) p.send(s.createTextMessage("m" + i));
        int ex = 0, ord = 0;
        for (int i = 0; i < 4; i++) if (exclusive.receive(2000) != null) ex++;
        if (ordinary.receive(300) != null) ord++;
        out("exclusive", ex + "," + ord);
        c.close();
    }

    /** Prefetch 0: every receive pulls one message; receiveNoWait and timeouts end empty. */
    static void pull() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name + "?consumer.prefetchSize=0");
        MessageConsumer a = s.createConsumer(q);
        MessageConsumer b = s.createConsumer(q);
        MessageProducer p = s.createProducer(s.createQueue(name));
        for (int i = 0; i < 2; i++) p.send(s.createTextMessage("m" + i));
        out("a", describe(a.receive(5000)));
        out("b", describe(b.receive(5000)));
        long start = System.currentTimeMillis();
        out("timeout", describe(a.receive(500)) + "," + (System.currentTimeMillis() - start >= 400));
        out("nowait", describe(a.receiveNoWait()));
        p.send(s.createTextMessage("late"));
        out("late", describe(b.receive(5000)));
        c.close();
    }

    /** A second connection with a clientID in use is refused. */
    static void clientid() throws Exception {
        Connection first = connect(name);
        try {
            connect(name);
            out("second", "accepted");
        } catch (InvalidClientIDException e) {
            out("second", "InvalidClientIDException: " + e.getMessage());
        }
        first.close();
        Connection again = connect(name);
        out("after_close", "accepted");
        again.close();
    }

    /** ObjectMessage is refused with a clear error; the connection keeps working. */
    static void object() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        MessageProducer p = s.createProducer(q);
        try {
            p.send(s.createObjectMessage(new java.util.ArrayList<String>()));
            out("object", "accepted");
        } catch (JMSException e) {
            out("object", e.getClass().getName() + ": " + e.getMessage());
        }
        p.send(s.createTextMessage("after"));
        out("after", describe(s.createConsumer(q).receive(5000)));
        c.close();
    }

    /**
     * failover NAME COUNT: a consumer and a producer on a failover: URL; sends one persistent
     * message every 50 ms (printing sent=i) while the broker is killed and restarted, then
     * prints how many distinct messages the consumer got.
     */
    static void failover() throws Exception {
        int count = Integer.parseInt(extra[0]);
        Connection c = connect(null);
        Session consumerSession = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Set<String> got = java.util.concurrent.ConcurrentHashMap.newKeySet();
        consumerSession.createConsumer(consumerSession.createQueue(name)).setMessageListener(m -> {
            try {
                got.add(((TextMessage) m).getText());
            } catch (JMSException e) {
                throw new RuntimeException(e);
            }
        });
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer p = s.createProducer(s.createQueue(name));
        for (int i = 0; i < count; i++) {
            p.send(s.createTextMessage("m" + i));
            out("sent", i);
            System.out.flush();
            Thread.sleep(50);
        }
        long deadline = System.currentTimeMillis() + 30000;
        while (got.size() < count && System.currentTimeMillis() < deadline) Thread.sleep(50);
        out("received", got.size());
        c.close();
    }

    /** A message rolled back more often than the client's redelivery policy allows is
     * poisoned by the client and lands in ActiveMQ.DLQ with the client's cause. */
    static void poison() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(true, Session.SESSION_TRANSACTED);
        Queue q = s.createQueue(name);
        TextMessage m = s.createTextMessage("poisoned");
        m.setStringProperty("tag", name);
        s.createProducer(q).send(m);
        s.commit();
        MessageConsumer consumer = s.createConsumer(q);
        int deliveries = 0;
        Message got;
        while ((got = consumer.receive(2000)) != null) {
            deliveries++;
            s.rollback();
        }
        out("deliveries", deliveries);
        Session plain = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Message dead = plain.createConsumer(plain.createQueue("ActiveMQ.DLQ"), "tag = '" + name + "'").receive(5000);
        out("dead", describe(dead));
        out("cause", dead == null ? "null" : dead.getStringProperty("dlqDeliveryFailureCause"));
        c.close();
    }

    /** responder NAME: answer one request from a queue on its JMSReplyTo (a request/reply server). */
    static void responder() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer requests = s.createConsumer(s.createQueue(name));
        out("ready", "yes");
        System.out.flush();
        Message request = requests.receive(20000);
        out("request", describe(request) + "," + request.getJMSReplyTo());
        TextMessage reply = s.createTextMessage("re: " + ((TextMessage) request).getText());
        reply.setJMSCorrelationID(request.getJMSCorrelationID());
        s.createProducer(null).send(request.getJMSReplyTo(), reply);
        c.close();
    }

    /** AMQ_SCHEDULED_DELAY on a JMS message holds it back, as ActiveMQ's scheduler does; its
     * deliveries carry the job's id and none of its schedule. */
    static void scheduled() throws Exception {
        Connection c = connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        TextMessage m = s.createTextMessage("later");
        m.setLongProperty("AMQ_SCHEDULED_DELAY", 1500);
        m.setLongProperty("AMQ_SCHEDULED_PERIOD", 200);
        m.setIntProperty("AMQ_SCHEDULED_REPEAT", 1);
        m.setStringProperty("kept", "yes");
        s.createProducer(q).send(m);
        MessageConsumer consumer = s.createConsumer(q);
        out("early", describe(consumer.receive(500)));
        Message later = consumer.receive(5000);
        out("later", describe(later));
        out("job", later == null ? "null" : String.valueOf(later.getStringProperty("scheduledJobId")));
        out("schedule", later == null ? "null" : schedule(later));
        Message again = consumer.receive(5000);
        out("again", describe(again) + "|" + (again == null ? "null" : schedule(again)));
        // Sent on as it came: delivered at once.
        Queue onward = s.createQueue(name + ".onward");
        if (later != null) s.createProducer(onward).send(later);
        out("forwarded", describe(s.createConsumer(onward).receive(1000)));
        // A message naming a job with a schedule of its own goes straight through, as in
        // ActiveMQ (a job's delivery is never scheduled again), its properties as they are.
        Queue resent = s.createQueue(name + ".resent");
        TextMessage copy = s.createTextMessage("resent");
        copy.setStringProperty("scheduledJobId", later == null ? "none" : later.getStringProperty("scheduledJobId"));
        copy.setLongProperty("AMQ_SCHEDULED_DELAY", 60000);
        s.createProducer(resent).send(copy);
        Message got = s.createConsumer(resent).receive(1000);
        out("resent", describe(got) + "|" + (got == null ? "null" : got.getObjectProperty("AMQ_SCHEDULED_DELAY")));
        c.close();
    }

    /** A delivered message's schedule properties and one user property, "|"-separated. */
    static String schedule(Message m) throws JMSException {
        return m.getObjectProperty("AMQ_SCHEDULED_DELAY") + "|" + m.getObjectProperty("AMQ_SCHEDULED_PERIOD")
            + "|" + m.getObjectProperty("AMQ_SCHEDULED_REPEAT") + "|" + m.getObjectProperty("AMQ_SCHEDULED_CRON")
            + "|" + m.getObjectProperty("kept");
    }

    /**
     * throughput NAME COUNT SIZE MODE [WARMUP]: produce then consume, print msg/s (mode: sync,
     * async, windowed, nonpersistent). WARMUP messages first go through NAME.warmup the same
     * way, untimed, so the figures are the JVM's and the broker's steady state, not the JIT's.
     */
    static void throughput() throws Exception {
        int count = Integer.parseInt(extra[0]);
        int size = Integer.parseInt(extra[1]);
        String mode = extra[2];
        int warmup = extra.length > 3 ? Integer.parseInt(extra[3]) : 0;
        ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(url);
        factory.setUseAsyncSend(mode.equals("async") || mode.equals("windowed"));
        if (mode.equals("windowed")) factory.setProducerWindowSize(64 * 1024);   // ProducerAck flow control
        Connection c = factory.createConnection();
        c.start();
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        int deliveryMode = mode.equals("nonpersistent") ? DeliveryMode.NON_PERSISTENT : DeliveryMode.PERSISTENT;
        byte[] body = new byte[size];
        Arrays.fill(body, (byte) 'x');
        if (warmup > 0 && produceAndConsume(s, s.createQueue(name + ".warmup"), deliveryMode, body, warmup)[2] != warmup)
            throw new java.lang.IllegalStateException("the warm-up round lost messages");
        double[] run = produceAndConsume(s, s.createQueue(name), deliveryMode, body, count);
        out("sent", count);
        out("received", (int) run[2]);
        out("send_rate", String.format("%.0f", count / run[0]));
        out("receive_rate", String.format("%.0f", run[2] / run[1]));
        c.close();
    }

    /** Send count messages to q, then receive them: {send seconds, receive seconds, received}. */
    static double[] produceAndConsume(Session s, Queue q, int deliveryMode, byte[] body, int count) throws JMSException {
        MessageProducer p = s.createProducer(q);
        p.setDeliveryMode(deliveryMode);
        long start = System.nanoTime();
        for (int i = 0; i < count; i++) {
            BytesMessage m = s.createBytesMessage();
            m.writeBytes(body);
            p.send(m);
        }
        double sendSeconds = (System.nanoTime() - start) / 1e9;
        p.close();
        MessageConsumer consumer = s.createConsumer(q);
        start = System.nanoTime();
        int got = 0;
        while (got < count && consumer.receive(10000) != null) got++;
        double receiveSeconds = (System.nanoTime() - start) / 1e9;
        consumer.close();
        return new double[] {sendSeconds, receiveSeconds, got};
    }

    interface Step { void run() throws Exception; }

    /** "ok", or the exception a step raised as "SimpleClassName: message". */
    static String outcome(Step step) {
        try {
            step.run();
            return "ok";
        } catch (Exception e) {
            return e.getClass().getSimpleName() + ": " + e.getMessage();
        }
    }

    static Connection login(String user, String password) throws JMSException {
        Connection c = new ActiveMQConnectionFactory(url).createConnection(user, password);
        try {
            c.start();
        } catch (JMSException e) {
            c.close();
            throw e;
        }
        return c;
    }

    /** Logins and rights against a broker with users and an authorization map.
     *  ARGS: producer password, reader password, admin password (users orders-app, reader, admin). */
    static void security() throws Exception {
        String queue = "orders." + name;
        out("none", outcome(() -> login(null, null).close()));
        out("wrong", outcome(() -> login("orders-app", "wrong").close()));
        Connection admin = login("admin", extra[2]);
        Session as = admin.createSession(false, Session.AUTO_ACKNOWLEDGE);
        as.createConsumer(as.createQueue(queue)).close();   // first use: admin may create it
        Connection producer = login("orders-app", extra[0]);
        Session ps = producer.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer anonymous = ps.createProducer(null);
        out("send_denied", outcome(() -> anonymous.send(ps.createQueue("vault"), ps.createTextMessage("no"))));
        out("send_allowed", outcome(() -> anonymous.send(ps.createQueue(queue), ps.createTextMessage("yes"))));
        out("create_denied", outcome(() -> anonymous.send(ps.createQueue(queue + ".new"), ps.createTextMessage("no"))));
        out("read_denied", outcome(() -> ps.createConsumer(ps.createQueue(queue)).close()));
        out("producer_denied", outcome(() -> ps.createProducer(ps.createQueue("vault")).close()));
        Session tx = producer.createSession(true, Session.SESSION_TRANSACTED);
        MessageProducer txProducer = tx.createProducer(null);
        txProducer.send(tx.createQueue(queue), tx.createTextMessage("in refused tx"));
        out("tx_send", outcome(() -> txProducer.send(tx.createQueue("vault"), tx.createTextMessage("no"))));
        out("tx_commit", outcome(tx::commit));
        Connection reader = login("reader", extra[1]);
        Session rs = reader.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer consumer = rs.createConsumer(rs.createQueue(queue));
        out("received", describe(consumer.receive(10000)));
        out("reader_send_denied", outcome(() -> rs.createProducer(rs.createQueue(queue)).send(rs.createTextMessage("no"))));
        out("after", describe(consumer.receive(1000)));
        Session vs = admin.createSession(false, Session.AUTO_ACKNOWLEDGE);
        out("vault", describe(vs.createConsumer(vs.createQueue("vault")).receive(1000)));
        reader.close();
        producer.close();
        admin.close();
    }
}
