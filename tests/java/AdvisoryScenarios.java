import java.util.Set;
import javax.jms.*;
import org.apache.activemq.ActiveMQConnection;
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
     */
    static void destinations(String name) throws Exception {
        Connection other = JmsScenarios.connect(null);
        Session os = other.createSession(false, Session.AUTO_ACKNOWLEDGE);
        os.createProducer(os.createQueue(name + ".early")).send(os.createTextMessage("x"));
        ActiveMQConnection c = (ActiveMQConnection) JmsScenarios.connect(null);
        DestinationSource source = c.getDestinationSource();
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
}
