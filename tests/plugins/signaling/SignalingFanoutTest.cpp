// A 1,000-peer fan-out (sb-sigload, the epoll client of bench/) with a peer that never reads in
// the same organization: the never-reader is dropped and announced offline (the seed's "drop on
// send failure"), while every one of the 1,000 peers gets each peer_online and peer_offline of
// every round, none twice, none missing.
#include <thread>

#include "RawSocket.h"
#include "SignalingTestSupport.h"

using namespace switchboard::test;
using namespace switchboard::test::signaling;

TEST(SignalingFanoutTest, ANeverReaderIsDroppedWhileAThousandPeersGetEveryAnnouncement) {
    AuthServer server(signalingPlugins(", max_agents_per_user: 5000, signal_rate: 10000, "
                                       "signal_burst: 10000"),
                      "", "", [](AuthServer& s) {
                          // The default max_outbound (1 MiB): 1,000 peers registering at once
                          // send each peer ~250 KB of peer_online.
                          s.yaml = withListener(s.yaml, "public", s.ports.pub,
                                                "max_connections_per_address: 5000");
                      });
    ASSERT_TRUE(server.ready);
    User u = makeUser(server.pub(), "fanout");
    std::int64_t id = createOrg(server.pub(), u, "10.40.0.0/16");
    allocate(server.pub(), u, id);
    TempDir work;
    std::string agents;
    for (int i = 0; i < 1001; ++i) {
        agents += std::to_string(id) + " " + u.token + "\n";
    }
    std::string agentsFile = work.write("agents.txt", agents);
    EventStream events(server.admin(), "peer.offline");

    RawWebSocket sleeper =
        openRawWebSocket(server.pub(), "/ws?token=" + u.token, /*receiveBuffer=*/4096);
    sleeper.socket.send(clientFrame(
        R"({"type":"register","agent_id":"zz-sleeper","public_ip":"1.2.3.4","public_port":9})"));
    ASSERT_NE(sleeper.socket.readUntil("register_agent_response", 5000ms).find("register_agent"),
              std::string::npos);

    Agent sender(server.pub(), u.token);
    sender.registered("zz-sender");
    RunResult fanout;
    std::thread load([&] {
        fanout = runCommand({SB_SIG_LOAD, "fanout", "--port", std::to_string(server.pub()),
                             "--agents", agentsFile, "--peers", "1000", "--rounds", "5", "--warmup",
                             "1", "--ignore", "zz-", "--timeout", "60"},
                            work.path(), std::chrono::seconds(120));
    });
    struct Joiner {
        std::thread& t;
        ~Joiner() {
            if (t.joinable()) {
                t.join();
            }
        }
    } joiner{load};
    // Meanwhile the sender floods the sleeper with 60 KB signals, far past its 1 MiB queue.
    std::string big =
        R"({"type":"signal","to":"zz-sleeper","data":{"blob":")" + std::string(60000, 'x') + "\"}}";
    for (int i = 0; i < 200 && !sleeper.socket.peerHungUp(); ++i) {
        sender.send(big);
    }
    auto dropped = events.next("peer.offline", "\"peer_id\":\"zz-sleeper\"");
    load.join();
    ASSERT_TRUE(dropped) << fanout.output;
    EXPECT_NE(dropped->data.find("\"reason\":\"dropped\""), std::string::npos) << dropped->data;
    EXPECT_EQ(fanout.exitCode, 0) << fanout.output;
    EXPECT_NE(fanout.output.find("\"errors\":0"), std::string::npos) << fanout.output;
    EXPECT_NE(fanout.output.find("\"stale_deliveries\":0"), std::string::npos) << fanout.output;
    std::cout << "[ fanout ] " << fanout.output.substr(0, 400) << "\n";
}
