// A HikariCP pool as a Java app configures it: a JDBC URL for the PostgreSQL JDBC driver and no password
// (the proxy does the IAM login). Run with the source launcher, no JDK needed:
//
//   java -cp HikariCP.jar:postgresql.jar:slf4j-api.jar:slf4j-nop.jar PoolCheck.java <jdbc-url> <pool-size>
//
// Worker threads borrow a connection, run `select current_user, pg_backend_pid()` and give it back, over and
// over. Commands on stdin: `evict` (soft-evicts every connection, so the pool opens new ones, as
// maxLifetime does in production; HikariCP will not take a maxLifetime under 30 s), `stop` (closes the
// pool). Every connection the pool opens or fails to open, and a summary, go to stdout as JSON lines.
// POOL_CHECK_PASSWORD, when set, is the pool's password: only to check this harness against a server
// directly, never with the proxy.
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverPropertyInfo;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

public class PoolCheck {
  static final AtomicLong opened = new AtomicLong();
  static final AtomicLong failed = new AtomicLong();
  static final AtomicLong queries = new AtomicLong();
  static final AtomicLong queryErrors = new AtomicLong();

  static synchronized void emit(String json) {
    System.out.println(json);
    System.out.flush();
  }

  static String quote(String text) {
    StringBuilder out = new StringBuilder("\"");
    for (char c : (text == null ? "" : text).toCharArray()) {
      if (c == '"' || c == '\\') out.append('\\').append(c);
      else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
      else out.append(c);
    }
    return out.append('"').toString();
  }

  static String failure(String event, Throwable error) {
    String state = error instanceof SQLException ? ((SQLException) error).getSQLState() : null;
    return "{\"event\":\"" + event + "\",\"sqlState\":" + quote(state) + ",\"message\":"
        + quote(String.valueOf(error.getMessage())) + "}";
  }

  /**
   * The PostgreSQL JDBC driver itself, counted: HikariCP loads it by driverClassName and calls connect for
   * every physical connection it opens, so each open and each failure is seen, also the ones the pool
   * retries without telling the app.
   */
  public static class CountingDriver implements Driver {
    private final Driver real = new org.postgresql.Driver();

    @Override
    public Connection connect(String url, Properties info) throws SQLException {
      long started = System.nanoTime();
      try {
        Connection connection = real.connect(url, info);
        if (connection == null) return null;
        int pid = connection.unwrap(org.postgresql.PGConnection.class).getBackendPID();
        opened.incrementAndGet();
        emit("{\"event\":\"opened\",\"pid\":" + pid + ",\"ms\":" + (System.nanoTime() - started) / 1_000_000
            + ",\"passwordSet\":" + info.containsKey("password") + "}");
        return connection;
      } catch (SQLException | RuntimeException error) {
        failed.incrementAndGet();
        emit(failure("failed", error));
        throw error;
      }
    }

    @Override
    public boolean acceptsURL(String url) throws SQLException {
      return real.acceptsURL(url);
    }

    @Override
    public DriverPropertyInfo[] getPropertyInfo(String url, Properties info) throws SQLException {
      return real.getPropertyInfo(url, info);
    }

    @Override
    public int getMajorVersion() {
      return real.getMajorVersion();
    }

    @Override
    public int getMinorVersion() {
      return real.getMinorVersion();
    }

    @Override
    public boolean jdbcCompliant() {
      return real.jdbcCompliant();
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      return real.getParentLogger();
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: java PoolCheck.java <jdbc-url> <pool-size>");
      System.exit(2);
    }
    String jdbcUrl = args[0];
    int poolSize = Integer.parseInt(args[1]);
    // The source launcher loads this file's classes in its own loader; HikariCP looks for driverClassName
    // in the thread's context loader.
    Thread.currentThread().setContextClassLoader(PoolCheck.class.getClassLoader());

    HikariConfig config = new HikariConfig();
    config.setPoolName("pool-check");
    config.setJdbcUrl(jdbcUrl);
    config.setDriverClassName(CountingDriver.class.getName());
    String password = System.getenv("POOL_CHECK_PASSWORD");
    if (password != null) config.setPassword(password);
    config.setMaximumPoolSize(poolSize);
    config.setMinimumIdle(poolSize);
    config.setConnectionTimeout(5_000);
    // The shortest HikariCP accepts; `evict` stands in for them between rotations.
    config.setMaxLifetime(30_000);
    config.setIdleTimeout(10_000);

    HikariDataSource pool = new HikariDataSource(config);
    emit("{\"event\":\"started\",\"poolSize\":" + poolSize + "}");

    AtomicBoolean running = new AtomicBoolean(true);
    List<Thread> workers = new ArrayList<>();
    for (int i = 0; i < poolSize; i++) {
      Thread worker = new Thread(() -> {
        while (running.get()) {
          try (Connection connection = pool.getConnection();
              Statement statement = connection.createStatement();
              ResultSet rows = statement.executeQuery("select current_user, pg_backend_pid()")) {
            rows.next();
            queries.incrementAndGet();
          } catch (SQLException error) {
            if (!running.get()) break;
            queryErrors.incrementAndGet();
            emit(failure("query-failed", error));
          }
          try {
            Thread.sleep(20);
          } catch (InterruptedException interrupted) {
            return;
          }
        }
      });
      worker.start();
      workers.add(worker);
    }

    BufferedReader commands = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = commands.readLine()) != null; ) {
      String command = line.trim();
      if (command.equals("stop")) break;
      if (command.equals("evict")) {
        pool.getHikariPoolMXBean().softEvictConnections();
        emit("{\"event\":\"evicted\",\"opened\":" + opened.get() + "}");
      }
    }
    running.set(false);
    for (Thread worker : workers) worker.join(10_000);
    pool.close();
    emit("{\"event\":\"summary\",\"opened\":" + opened.get() + ",\"failed\":" + failed.get() + ",\"queries\":"
        + queries.get() + ",\"queryErrors\":" + queryErrors.get() + "}");
  }
}
