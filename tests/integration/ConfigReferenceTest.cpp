// docs/configuration.md must contain exactly what the schema generates (docs cannot drift).
#include <gtest/gtest.h>

#include "TestSupport.h"

using namespace switchboard::test;

TEST(ConfigReferenceTest, DocsMatchTheSchema) {
    RunResult r =
        runSwitchboard({"--print-schema", "--config=etc/switchboard.yaml"}, SB_SOURCE_DIR);
    ASSERT_EQ(r.exitCode, 0) << r.output;
    ASSERT_NE(r.output.find("| `plugins.pairing.offline_after` | duration at least 1ms | `90s` |"),
              std::string::npos)
        << r.output;
    while (!r.output.empty() && r.output.back() == '\n') {
        r.output.pop_back();  // as the shell's $(...) in scripts/gen-docs does
    }
    std::string doc = readFile(std::string(SB_SOURCE_DIR) + "/docs/configuration.md");
    EXPECT_NE(doc.find("<!-- BEGIN GENERATED: switchboard --print-schema -->\n" + r.output +
                       "\n<!-- END GENERATED -->"),
              std::string::npos)
        << "docs/configuration.md is out of date: run scripts/gen-docs";
}
