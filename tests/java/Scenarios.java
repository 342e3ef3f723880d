/**
 * What the scenario programs (JmsScenarios, AdvisoryScenarios, PolicyScenarios) share: how
 * a scenario ends. Its "key=value" lines are printed as it goes; any exception is printed
 * as "error=ExceptionClass: message" and the exit status is 1, otherwise it is 0 (exiting
 * also ends the client's own threads).
 */
final class Scenarios {
    /** A scenario's body. */
    interface Body {
        void run() throws Exception;
    }

    private Scenarios() {
    }

    /** Runs `body`, prints its failure if any, and exits with its status. */
    static void run(Body body) {
        try {
            body.run();
        } catch (Exception e) {
            System.out.println("error=" + e.getClass().getName() + ": " + e.getMessage());
            System.out.flush();
            System.exit(1);
        }
        System.out.flush();
        System.exit(0);
    }
}
