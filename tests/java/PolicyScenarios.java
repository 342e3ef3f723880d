import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.jms.*;
import org.apache.activemq.ActiveMQConnectionFactory;

/**
 * Broker-side policy scenarios: producer flow control against a broker whose test
 * configuration limits the queues `flow.>` (3 messages, producers wait) and `fail.>`
 * (2 messages, sendFailIfNoSpace), dead-letter strategies, and the scheduler's cron
 * entries. Usage: PolicyScenarios URL SCENARIO NAME ARG; prints "key=value" lines as
 * JmsScenarios does.
 */
public class PolicyScenarios {
    public static void main(String[] args) throws Exception {
        JmsScenarios.url = args[0];
        String scenario = args[1];
        String name = args[2];
        String arg = args[3];
        Scenarios.run(() -> {
            switch (scenario) {
                case "sync": blocked(name, Integer.parseInt(arg), false); break;
                case "windowed": blocked(name, Integer.parseInt(arg), true); break;
                case "fail": fail(name); break;
                case "dead": dead(name, arg); break;
                case "cron": cron(name, arg); break;
                default: throw new IllegalArgumentException("unknown scenario " + scenario);
            }
        });
    }

    /**
     * A producer sends COUNT persistent messages (sync sends, or async ones with a producer
     * window) to a queue that holds 3: it stops once the queue is full, and finishes once a
     * consumer on another connection drains it. Prints how far it got before the consumer
     * came, and what the consumer read.
     */
    static void blocked(String name, int count, boolean windowed) throws Exception {
        ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(JmsScenarios.url);
        if (windowed) {
            factory.setUseAsyncSend(true);
            factory.setProducerWindowSize(2048);
        }
        Connection pc = factory.createConnection();
        pc.start();
        Session ps = pc.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageProducer producer = ps.createProducer(ps.createQueue(name));
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        AtomicInteger sent = new AtomicInteger();
        AtomicReference<Exception> failed = new AtomicReference<>();
        Thread sender = new Thread(() -> {
            try {
                for (int i = 0; i < count; i++) {
                    producer.send(ps.createTextMessage("m" + i));
                    sent.incrementAndGet();
                }
            } catch (Exception e) {
                failed.set(e);
            }
        });
        sender.start();
        sender.join(3000);       // it cannot finish: the queue holds 3
        JmsScenarios.out("sent_while_full", sent.get());
        JmsScenarios.out("sender_waiting", sender.isAlive());
        Connection cc = JmsScenarios.connect(null);
        Session cs = cc.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer consumer = cs.createConsumer(cs.createQueue(name));
        List<String> got = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Message m = consumer.receive(10000);
            if (m == null) break;
            got.add(((TextMessage) m).getText());
        }
        sender.join(10000);
        JmsScenarios.out("sent", sent.get());
        JmsScenarios.out("failed", failed.get());
        JmsScenarios.out("received", String.join(",", got));
        JmsScenarios.out("left", JmsScenarios.describe(consumer.receive(500)));
        pc.close();
        cc.close();
    }

    /** sendFailIfNoSpace: the third sync send to a queue that holds 2 is refused; the rest goes on. */
    static void fail(String name) throws Exception {
        Connection c = JmsScenarios.connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        MessageProducer producer = s.createProducer(q);
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        producer.send(s.createTextMessage("m0"));
        producer.send(s.createTextMessage("m1"));
        try {
            producer.send(s.createTextMessage("m2"));
            JmsScenarios.out("refused", "no");
        } catch (JMSException e) {
            JmsScenarios.out("refused", e.getClass().getName() + ": " + e.getMessage());
        }
        // An async (non-persistent) send has no response: its refusal reaches the listener.
        java.util.concurrent.ArrayBlockingQueue<JMSException> errors = new java.util.concurrent.ArrayBlockingQueue<>(4);
        c.setExceptionListener(errors::offer);
        producer.setDeliveryMode(DeliveryMode.NON_PERSISTENT);
        producer.send(s.createTextMessage("m2-async"));
        JMSException async = errors.poll(5, java.util.concurrent.TimeUnit.SECONDS);
        JmsScenarios.out("async_refused", async == null ? "null" : async.getClass().getName());
        producer.setDeliveryMode(DeliveryMode.PERSISTENT);
        MessageConsumer consumer = s.createConsumer(q);
        JmsScenarios.out("first", JmsScenarios.describe(consumer.receive(5000)));
        JmsScenarios.out("second", JmsScenarios.describe(consumer.receive(5000)));
        producer.send(s.createTextMessage("m3"));
        JmsScenarios.out("after", JmsScenarios.describe(consumer.receive(5000)));
        JmsScenarios.out("left", JmsScenarios.describe(consumer.receive(500)));
        c.close();
    }

    /**
     * dead NAME DLQ: a persistent and a non-persistent message, each rolled back once by a
     * client that gives up at once (maximumRedeliveries=0), are read from the queue DLQ.
     */
    static void dead(String name, String dlq) throws Exception {
        ActiveMQConnectionFactory factory = new ActiveMQConnectionFactory(JmsScenarios.url);
        factory.getRedeliveryPolicy().setMaximumRedeliveries(0);
        Connection c = factory.createConnection();
        c.start();
        Session s = c.createSession(true, Session.SESSION_TRANSACTED);
        Queue q = s.createQueue(name);
        MessageProducer producer = s.createProducer(q);
        producer.send(s.createTextMessage("persistent"));
        producer.setDeliveryMode(DeliveryMode.NON_PERSISTENT);
        producer.send(s.createTextMessage("non-persistent"));
        s.commit();
        MessageConsumer consumer = s.createConsumer(q);
        for (int i = 0; i < 2; i++) {
            JmsScenarios.out("got" + i, JmsScenarios.describe(consumer.receive(5000)));
            s.rollback();
        }
        JmsScenarios.out("left", JmsScenarios.describe(consumer.receive(500)));
        Session plain = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer dead = plain.createConsumer(plain.createQueue(dlq));
        for (int i = 0; i < 2; i++) {
            Message m = dead.receive(5000);
            JmsScenarios.out("dead" + i, JmsScenarios.describe(m));
            if (m == null) continue;
            JmsScenarios.out("mode" + i, m.getJMSDeliveryMode() + "," + m.getStringProperty("originalDeliveryMode"));
            JmsScenarios.out("cause" + i, m.getStringProperty("dlqDeliveryFailureCause") != null);
        }
        c.close();
    }

    /**
     * cron NAME ENTRY: a persistent send with AMQ_SCHEDULED_CRON ENTRY; a bad entry is
     * refused (by the client's own CronParser, or else by the broker), a good one is kept
     * for its first cron time (nothing arrives at once).
     */
    static void cron(String name, String entry) throws Exception {
        Connection c = JmsScenarios.connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        MessageConsumer consumer = s.createConsumer(q);
        TextMessage m = s.createTextMessage("cron");
        try {
            m.setStringProperty("AMQ_SCHEDULED_CRON", entry);     // the client checks it too
            s.createProducer(q).send(m);
            JmsScenarios.out("sent", "yes");
        } catch (JMSException e) {
            JmsScenarios.out("sent", e.getClass().getName() + ": " + e.getMessage());
        }
        JmsScenarios.out("at_once", JmsScenarios.describe(consumer.receive(500)));
        c.close();
    }
}
