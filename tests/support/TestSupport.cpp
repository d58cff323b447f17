// Test helpers (see TestSupport.h).
#include "TestSupport.h"

#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/TemporaryFile.h>

#include <fstream>
#include <sstream>

namespace switchboard::test {

TempDir::TempDir() {
    _path = Poco::TemporaryFile::tempName("/tmp");
    Poco::File(_path).createDirectories();
}

TempDir::~TempDir() {
    try {
        Poco::File(_path).remove(true);
    } catch (...) {
    }
}

std::string TempDir::file(const std::string& name) const { return _path + "/" + name; }

std::string TempDir::write(const std::string& name, const std::string& content) const {
    std::string p = file(name);
    Poco::File(Poco::Path(p).parent()).createDirectories();
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
    return p;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace switchboard::test
