import java.util.Set;
import javax.jms.*;
import org.apache.activemq.ActiveMQConnection;
import org.apache.activemq.ActiveMQConnectionFactory;
import org.apache.activemq.RedeliveryPolicy;
import org.apache.activemq.advisory.AdvisorySupport;
import org.apache.activemq.advisory.DestinationSource;
import org.apache.activemq.command.ActiveMQMessage;
import org.apache.activemq.command.ActiveMQQueue;
import org.apache.activemq.command.ActiveMQTopic;
import org.apache.activemq.command.ConnectionInfo;
import org.apache.activemq.command.DataStructure;

/**
 * ActiveMQ's advisory topics as the JMS client's own tools read them. Usage:
 * AdvisoryScenarios URL SCENARIO NAME; prints "key=value" lines as JmsScenarios does.
 */
public class AdvisoryScenarios {
    public static void main(String[] args) throws Exception {
        JmsScenarios.url = args[0];
        String scenario = args[1];
        String name = args[2];
        Scenarios.run(() -> {
            switch (scenario) {
                case "destinations": destinations(name); break;
                case "clients": clients(name); break;
                case "expired": expired(name); break;
                case "poisoned": poisoned(name); break;
                default: throw new IllegalArgumentException("unknown scenario " + scenario);
            }
        });
    }

    /** Wait (at most 10 s) until the set holds the destination. */
    static boolean appears(Set<?> set, Object destination) throws InterruptedException {
        for (int i = 0; i < 100 && !set.contains(destination); i++) Thread.sleep(100);
        return set.contains(destination);
    }

    /**
     * DestinationSource sees a queue made before it started (replayed), and a queue and a
     * topic another connection makes afterwards.
     *
     * The source is made before its connection starts, as JMS has listeners set up: on a
     * started connection the client can strand the replay. Each of the source's four
     * consumers sets its listener by stopping and restarting their shared session; a
     * message the session thread hands the first consumer during a later consumer's stop
     * is parked in that consumer, and the restart wakes the session thread only for what
     * the session itself holds, so it waits there for the session's next delivery (the
     * next queue made), whichever broker sent it.
     */
    static void destinations(String name) throws Exception {
        Connection other = JmsScenarios.connect(null);
        Session os = other.createSession(false, Session.AUTO_ACKNOWLEDGE);
        os.createProducer(os.createQueue(name + ".early")).send(os.createTextMessage("x"));
        ActiveMQConnection c = (ActiveMQConnection) new ActiveMQConnectionFactory(JmsScenarios.url).createConnection();
        DestinationSource source = c.getDestinationSource();
        c.start();
        JmsScenarios.out("early_queue", appears(source.getQueues(), new ActiveMQQueue(name + ".early")));
        os.createProducer(os.createQueue(name + ".late")).send(os.createTextMessage("x"));
        os.createProducer(os.createTopic(name + ".topic")).send(os.createTextMessage("x"));
        JmsScenarios.out("late_queue", appears(source.getQueues(), new ActiveMQQueue(name + ".late")));
        JmsScenarios.out("topic", appears(source.getTopics(), new ActiveMQTopic(name + ".topic")));
        c.close();
        other.close();
    }

    static String describe(Message m, String count) throws JMSException {
        if (m == null) return "null";
        DataStructure data = ((ActiveMQMessage) m).getDataStructure();
        String about = data == null ? "null" : data.getClass().getSimpleName();
        if (data instanceof ConnectionInfo) about += ":" + ((ConnectionInfo) data).getClientId();
        return about + (count == null ? "" : "," + m.getObjectProperty(count));
    }

    /**
     * Consumer, producer and connection advisories: ConsumerInfo / RemoveInfo with
     * consumerCount, ProducerInfo with producerCount, ConnectionInfo with the client id.
     */
    static void clients(String name) throws Exception {
        Connection c = JmsScenarios.connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer consumers = s.createConsumer(s.createTopic("ActiveMQ.Advisory.Consumer.Queue." + name));
        MessageConsumer producers = s.createConsumer(s.createTopic("ActiveMQ.Advisory.Producer.Queue." + name));
        MessageConsumer connections = s.createConsumer(s.createTopic("ActiveMQ.Advisory.Connection"));
        Connection other = JmsScenarios.connect(name + "-client");
        Message m;
        do {
            m = connections.receive(5000);
        } while (m != null && !describe(m, null).endsWith(name + "-client"));
        JmsScenarios.out("connection", describe(m, null));
        Session os = other.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer first = os.createConsumer(os.createQueue(name));
        JmsScenarios.out("consumer1", describe(consumers.receive(5000), "consumerCount"));
        MessageConsumer second = os.createConsumer(os.createQueue(name));
        JmsScenarios.out("consumer2", describe(consumers.receive(5000), "consumerCount"));
        first.close();
        JmsScenarios.out("removed", describe(consumers.receive(5000), "consumerCount"));
        MessageProducer producer = os.createProducer(os.createQueue(name));
        JmsScenarios.out("producer", describe(producers.receive(5000), "producerCount"));
        producer.close();
        JmsScenarios.out("producer_removed", describe(producers.receive(5000), "producerCount"));
        second.close();
        other.close();
        c.close();
    }

    /** The message an Expired / MessageDLQd advisory carries, as a JMS client reads it. */
    static String about(Message m) throws JMSException {
        if (m == null) return "null";
        DataStructure data = ((ActiveMQMessage) m).getDataStructure();
        if (!(data instanceof ActiveMQMessage)) return "not a message: " + data;
        ActiveMQMessage original = (ActiveMQMessage) data;
        String text = original instanceof TextMessage ? ((TextMessage) original).getText() : "-";
        return original.getJMSMessageID() + "|" + original.getDestination() + "|" + original.getStringProperty("tag")
            + "|" + text + "|" + m.getJMSType() + "|" + m.getStringProperty(AdvisorySupport.MSG_PROPERTY_MESSAGE_ID)
            + "|" + m.getStringProperty(AdvisorySupport.MSG_PROPERTY_ORIGIN_BROKER_NAME);
    }

    /**
     * A persistent and a non-persistent message expire in queue NAME, and a message expires
     * on topic NAME: Expired advisories for each, a MessageDLQd advisory for the persistent
     * one only (the others are dropped, not sent to the DLQ).
     */
    static void expired(String name) throws Exception {
        Connection c = JmsScenarios.connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        Queue q = s.createQueue(name);
        Topic t = s.createTopic(name);
        MessageConsumer expired = s.createConsumer(AdvisorySupport.getExpiredQueueMessageAdvisoryTopic(q));
        MessageConsumer dlqd = s.createConsumer(AdvisorySupport.getMessageDLQdAdvisoryTopic((ActiveMQQueue) q));
        MessageConsumer topicExpired = s.createConsumer(AdvisorySupport.getExpiredTopicMessageAdvisoryTopic((ActiveMQTopic) t));
        MessageConsumer subscriber = s.createConsumer(t);      // holds the topic copy, never reads it...
        MessageProducer p = s.createProducer(q);
        TextMessage persistent = s.createTextMessage("persistent");
        persistent.setStringProperty("tag", "p");
        p.send(persistent, DeliveryMode.PERSISTENT, 4, 500);
        TextMessage volatileOne = s.createTextMessage("non-persistent");
        volatileOne.setStringProperty("tag", "n");
        p.send(volatileOne, DeliveryMode.NON_PERSISTENT, 4, 500);
        Thread.sleep(1500);
        Connection other = JmsScenarios.connect(null);                   // ...and a consumer comes late
        Session os = other.createSession(false, Session.AUTO_ACKNOWLEDGE);
        JmsScenarios.out("consumed", JmsScenarios.describe(os.createConsumer(q).receive(1000)));
        Message first = expired.receive(5000), second = expired.receive(5000);
        String a = about(first), b = about(second);
        JmsScenarios.out("expired.p", a.contains("|p|") ? a : b);
        JmsScenarios.out("expired.n", a.contains("|n|") ? a : b);
        JmsScenarios.out("persistent_id", persistent.getJMSMessageID());
        JmsScenarios.out("dlqd", about(dlqd.receive(5000)));
        JmsScenarios.out("dlqd_more", about(dlqd.receive(500)));
        subscriber.close();
        MessageConsumer slow = s.createConsumer(t);
        Connection pc = JmsScenarios.connect(null);
        Session ps = pc.createSession(false, Session.AUTO_ACKNOWLEDGE);
        ((org.apache.activemq.ActiveMQConnection) c).stop();              // the subscriber's copy waits...
        TextMessage onTopic = ps.createTextMessage("on topic");
        onTopic.setStringProperty("tag", "t");
        ps.createProducer(t).send(onTopic, DeliveryMode.NON_PERSISTENT, 4, 300);
        Thread.sleep(1300);
        c.start();                                                        // ...until it expired
        JmsScenarios.out("topic_consumed", JmsScenarios.describe(slow.receive(500)));
        JmsScenarios.out("topic_expired", about(topicExpired.receive(5000)));
        pc.close();
        other.close();
        c.close();
    }

    /** A message the client gives up on (poison ack) is DLQd: one MessageDLQd advisory. */
    static void poisoned(String name) throws Exception {
        ActiveMQQueue q = new ActiveMQQueue(name);
        Connection c = JmsScenarios.connect(null);
        Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
        MessageConsumer dlqd = s.createConsumer(AdvisorySupport.getMessageDLQdAdvisoryTopic(q));
        TextMessage m = s.createTextMessage("poison");
        m.setStringProperty("tag", "x");
        s.createProducer(q).send(m);
        org.apache.activemq.ActiveMQConnectionFactory f = new org.apache.activemq.ActiveMQConnectionFactory(JmsScenarios.url);
        RedeliveryPolicy policy = new RedeliveryPolicy();
        policy.setMaximumRedeliveries(0);
        f.setRedeliveryPolicy(policy);
        Connection consumerConnection = f.createConnection();
        consumerConnection.start();
        Session cs = consumerConnection.createSession(true, Session.SESSION_TRANSACTED);
        MessageConsumer consumer = cs.createConsumer(q);
        JmsScenarios.out("got", JmsScenarios.describe(consumer.receive(5000)));
        cs.rollback();
        JmsScenarios.out("dlqd", about(dlqd.receive(5000)));
        JmsScenarios.out("sent_id", m.getJMSMessageID());
        consumerConnection.close();
        c.close();
    }
}
