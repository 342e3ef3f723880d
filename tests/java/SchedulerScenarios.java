import javax.jms.*;
import org.apache.activemq.ScheduledMessage;
import org.apache.activemq.command.ActiveMQMessage;

/**
 * ActiveMQ's scheduler management topic as a JMS client uses it (the property names are
 * the client's own ScheduledMessage constants). Usage: SchedulerScenarios URL SCENARIO
 * NAME [ARGS...]; prints "key=value" lines as JmsScenarios does.
 *
 *   schedule NAME         four jobs: on queue NAME a delayed message (1 h), a repeating
 *                         one (2 h, then twice a second apart) and a cron job (0 0 1 1 *);
 *                         on topic NAME a delayed message (3 h); prints each job's id
 *   browse NAME [S E]     BROWSE (between S and E ms) with a temporary reply queue; prints
 *                         the jobs of NAME's destinations, in the order they came
 *   remove NAME ID        REMOVE the job ID
 *   removeall NAME [S E]  REMOVEALL (between S and E ms)
 *   removed_soon NAME     a message delayed 1.5 s to queue NAME, removed at once: nothing
 *                         arrives in the next 3 s
 */
public class SchedulerScenarios {
    public static void main(String[] args) throws Exception {
        JmsScenarios.url = args[0];
        String scenario = args[1];
        String name = args[2];
        Scenarios.run(() -> {
            Connection c = JmsScenarios.connect(null);
            Session s = c.createSession(false, Session.AUTO_ACKNOWLEDGE);
            switch (scenario) {
                case "schedule": schedule(s, name); break;
                case "browse": browse(s, name, args); break;
                case "remove": manage(s, ScheduledMessage.AMQ_SCHEDULER_ACTION_REMOVE, args[3], args, 4); break;
                case "removeall": manage(s, ScheduledMessage.AMQ_SCHEDULER_ACTION_REMOVEALL, null, args, 3); break;
                case "removed_soon": removedSoon(s, name); break;
                default: throw new IllegalArgumentException("unknown scenario " + scenario);
            }
            c.close();
        });
    }

    static String send(Session s, Destination d, String text, long delay, long period, int repeat,
                       String cron) throws JMSException {
        TextMessage m = s.createTextMessage(text);
        if (delay > 0) m.setLongProperty(ScheduledMessage.AMQ_SCHEDULED_DELAY, delay);
        if (period > 0) m.setLongProperty(ScheduledMessage.AMQ_SCHEDULED_PERIOD, period);
        if (repeat > 0) m.setIntProperty(ScheduledMessage.AMQ_SCHEDULED_REPEAT, repeat);
        if (cron != null) m.setStringProperty(ScheduledMessage.AMQ_SCHEDULED_CRON, cron);
        MessageProducer p = s.createProducer(d);
        p.setDeliveryMode(DeliveryMode.PERSISTENT);
        p.send(m);
        p.close();
        return m.getJMSMessageID();
    }

    static void schedule(Session s, String name) throws JMSException {
        Queue q = s.createQueue(name);
        JmsScenarios.out("delayed", send(s, q, "delayed", 3600000L, 0, 0, null));
        JmsScenarios.out("repeat", send(s, q, "repeat", 7200000L, 1000, 2, null));
        JmsScenarios.out("cron", send(s, q, "cron", 0, 0, 0, "0 0 1 1 *"));
        JmsScenarios.out("topic", send(s, s.createTopic(name), "topic", 10800000L, 0, 0, null));
    }

    /** A message to the management topic; the time range from args[from], args[from + 1]. */
    static Message request(Session s, String action, String jobId, String[] args, int from) throws JMSException {
        Message m = s.createMessage();
        m.setStringProperty(ScheduledMessage.AMQ_SCHEDULER_ACTION, action);
        if (jobId != null) m.setStringProperty(ScheduledMessage.AMQ_SCHEDULED_ID, jobId);
        if (args.length > from + 1) {
            m.setLongProperty(ScheduledMessage.AMQ_SCHEDULER_ACTION_START_TIME, Long.parseLong(args[from]));
            m.setLongProperty(ScheduledMessage.AMQ_SCHEDULER_ACTION_END_TIME, Long.parseLong(args[from + 1]));
        }
        return m;
    }

    static void manage(Session s, String action, String jobId, String[] args, int from) throws JMSException {
        MessageProducer p = s.createProducer(s.createTopic(ScheduledMessage.AMQ_SCHEDULER_MANAGEMENT_DESTINATION));
        p.setDeliveryMode(DeliveryMode.PERSISTENT);      // a sync send: done when it returns
        p.send(request(s, action, jobId, args, from));
        JmsScenarios.out("done", action);
    }

    static void browse(Session s, String name, String[] args) throws JMSException {
        TemporaryQueue replies = s.createTemporaryQueue();
        MessageConsumer consumer = s.createConsumer(replies);
        Message m = request(s, ScheduledMessage.AMQ_SCHEDULER_ACTION_BROWSE, null, args, 3);
        m.setJMSReplyTo(replies);
        MessageProducer p = s.createProducer(s.createTopic(ScheduledMessage.AMQ_SCHEDULER_MANAGEMENT_DESTINATION));
        p.setDeliveryMode(DeliveryMode.PERSISTENT);
        p.send(m);
        int count = 0;
        for (Message got = consumer.receive(2000); got != null; got = consumer.receive(500)) {
            Destination original = ((ActiveMQMessage) got).getOriginalDestination();
            if (original == null || !original.toString().endsWith("://" + name)) continue;
            count++;
            JmsScenarios.out("job." + count, got.getStringProperty(ScheduledMessage.AMQ_SCHEDULED_ID)
                + "|" + ((TextMessage) got).getText() + "|" + original + "|" + got.getJMSType()
                + "|" + (got.getJMSDeliveryMode() == DeliveryMode.PERSISTENT ? "persistent" : "non-persistent")
                + "|" + got.getObjectProperty(ScheduledMessage.AMQ_SCHEDULED_DELAY)
                + "|" + got.getObjectProperty(ScheduledMessage.AMQ_SCHEDULED_REPEAT)
                + "|" + got.getObjectProperty(ScheduledMessage.AMQ_SCHEDULED_CRON)
                + "|" + got.getJMSMessageID().equals(got.getStringProperty(ScheduledMessage.AMQ_SCHEDULED_ID)));
        }
        JmsScenarios.out("count", count);
    }

    static void removedSoon(Session s, String name) throws JMSException {
        Queue q = s.createQueue(name);
        MessageConsumer consumer = s.createConsumer(q);
        String id = send(s, q, "soon", 1500, 0, 0, null);
        manage(s, ScheduledMessage.AMQ_SCHEDULER_ACTION_REMOVE, id, new String[0], 0);
        JmsScenarios.out("after", JmsScenarios.describe(consumer.receive(3000)));
    }
}
