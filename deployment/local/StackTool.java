// Two chores of `bitpredict stack up` that need Java's own libraries, run with the JDK's
// single-file source launcher (java StackTool.java ...), so the stack needs no openssl and no
// Kafka command-line tools jar:
//   pem <pkcs12> <password-file> <alias> <cert.pem> <key.pem>
//       writes a key pair of a PKCS12 keystore as PEM (the certificate chain and an unencrypted
//       PKCS#8 key), for servers that take PEM files (redis-server's TLS port).
//   acls <bootstrap> <user> <password-file-of-no-acl-user> <no-acl-user>
//       on a broker with the StandardAuthorizer: allows <user> what the BitPredict services do
//       (topics, groups and transactional ids of any name; idempotent writes, topic creation and
//       cluster description), and gives <no-acl-user> SCRAM credentials and no ACL at all, so
//       the missing-ACL errors can be tested. Idempotent: creating an existing ACL is a no-op.
// Secrets are read from files, never from the command line (which `ps` shows).
import java.io.FileInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class StackTool {
  public static void main(String[] args) throws Exception {
    if (args.length == 6 && args[0].equals("pem")) {
      pem(args[1], read(args[2]), args[3], args[4], args[5]);
    } else if (args.length == 5 && args[0].equals("acls")) {
      acls(args[1], args[2], read(args[3]), args[4]);
    } else {
      System.err.println("usage: StackTool pem <p12> <password-file> <alias> <cert.pem> <key.pem> | acls <bootstrap> <user> <password-file> <no-acl-user>");
      System.exit(2);
    }
  }

  static String read(String file) throws Exception {
    return Files.readString(Path.of(file), StandardCharsets.UTF_8).replaceAll("\\r?\\n$", "");
  }

  static String pemBlock(String label, byte[] der) {
    String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
    return "-----BEGIN " + label + "-----\n" + body + "\n-----END " + label + "-----\n";
  }

  static void pem(String store, String password, String alias, String certOut, String keyOut) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (FileInputStream in = new FileInputStream(store)) {
      ks.load(in, password.toCharArray());
    }
    Key key = ks.getKey(alias, password.toCharArray());
    Certificate[] chain = ks.getCertificateChain(alias);
    if (key == null || chain == null) throw new IllegalArgumentException("no key pair named " + alias + " in " + store);
    StringBuilder certs = new StringBuilder();
    for (Certificate c : chain) certs.append(pemBlock("CERTIFICATE", c.getEncoded()));
    Files.writeString(Path.of(certOut), certs.toString());
    Path k = Path.of(keyOut);
    Files.deleteIfExists(k);
    Files.createFile(k, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(k, pemBlock("PRIVATE KEY", key.getEncoded()));
  }

  static void acls(String bootstrap, String user, String noAclPassword, String noAclUser) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "30000");
    try (Admin admin = Admin.create(p)) {
      String principal = "User:" + user;
      List<AclBinding> bindings = new ArrayList<>();
      for (ResourceType type : new ResourceType[] {ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID}) {
        bindings.add(new AclBinding(new ResourcePattern(type, "*", PatternType.LITERAL), new AccessControlEntry(principal, "*", AclOperation.ALL, AclPermissionType.ALLOW)));
      }
      // CLUSTER_ACTION: @platformatic/kafka 1.35 sends AddPartitionsToTxn v5, which Kafka 4 reserves
      // for brokers (v4+ needs ClusterAction); without it its transactions fail. kafkajs needs none.
      for (AclOperation op :
          new AclOperation[] {
            AclOperation.IDEMPOTENT_WRITE, AclOperation.CREATE, AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS, AclOperation.CLUSTER_ACTION
          }) {
        bindings.add(new AclBinding(new ResourcePattern(ResourceType.CLUSTER, "kafka-cluster", PatternType.LITERAL), new AccessControlEntry(principal, "*", op, AclPermissionType.ALLOW)));
      }
      admin.createAcls(bindings).all().get();
      // One mechanism per request: KRaft refuses to alter one user's credentials twice in a request.
      for (ScramMechanism m : new ScramMechanism[] {ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512}) {
        admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(noAclUser, new ScramCredentialInfo(m, 8192), noAclPassword))).all().get();
      }
    }
    System.out.println("acls: " + user + " may use every topic, group and transactional id; " + noAclUser + " has none");
  }
}
