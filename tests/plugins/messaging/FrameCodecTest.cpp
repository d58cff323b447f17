// Unit test of the chat frame codec (plugins/messaging/FrameCodec): header layout, the seed's
// type numbers, any split of the byte stream, the 64 KiB limit.
#include <gtest/gtest.h>

// The codec has no dependencies; it is compiled into this test as it is into the plugin.
#include "../../../plugins/messaging/FrameCodec.cpp"

using switchboard::messaging::Frame;
using switchboard::messaging::FrameCodec;
using switchboard::messaging::FrameType;

TEST(FrameCodecTest, HeaderIsVersionTypeAndBigEndianLength) {
    std::string bytes = FrameCodec::encode(FrameType::MSG, std::string(300, 'x'));
    ASSERT_EQ(bytes.size(), 303u);
    EXPECT_EQ(static_cast<unsigned char>(bytes[0]), 0x43);  // 01 000011
    EXPECT_EQ(static_cast<unsigned char>(bytes[1]), 0x01);
    EXPECT_EQ(static_cast<unsigned char>(bytes[2]), 0x2c);  // 300 = 0x012c
}

TEST(FrameCodecTest, TypesAreTheSeedsTableOrder) {
    const char* names[] = {"ACK", "ERR", "DIS", "MSG", "LOG", "SES", "REG",
                           "LIS", "FRP", "HIS", "UPD", "CHP", "CHM", "DEL"};
    for (int t = 0; t < 14; ++t) {
        EXPECT_EQ(FrameCodec::typeName(t), names[t]);
        EXPECT_TRUE(FrameCodec::knownType(t));
    }
    EXPECT_EQ(static_cast<int>(FrameType::DEL), 13);
    EXPECT_FALSE(FrameCodec::knownType(14));
    EXPECT_EQ(FrameCodec::typeName(63), "type 63");
}

TEST(FrameCodecTest, DecodesAnySplit) {
    std::string stream = FrameCodec::encode(FrameType::LOG, "{\"login\":\"a\"}") +
                         FrameCodec::encode(FrameType::LIS, "") +
                         FrameCodec::encode(FrameType::MSG, std::string(70000 / 2, 'm'));
    for (std::size_t step : {1u, 2u, 3u, 7u, 1000u, 100000u}) {
        FrameCodec codec;
        std::vector<Frame> frames;
        for (std::size_t i = 0; i < stream.size(); i += step) {
            codec.feed(std::string_view(stream).substr(i, step));
            Frame f;
            while (codec.next(f)) {
                frames.push_back(f);
            }
        }
        ASSERT_EQ(frames.size(), 3u) << "step " << step;
        EXPECT_EQ(frames[0].type, 4);
        EXPECT_EQ(frames[0].version, 1);
        EXPECT_EQ(frames[0].payload, "{\"login\":\"a\"}");
        EXPECT_EQ(frames[1].type, 7);
        EXPECT_EQ(frames[1].payload, "");
        EXPECT_EQ(frames[2].payload.size(), 35000u);
        EXPECT_FALSE(codec.partial());
    }
}

TEST(FrameCodecTest, PartialFramesAreReported) {
    FrameCodec codec;
    Frame f;
    codec.feed(std::string("\x43\x00", 2));
    EXPECT_FALSE(codec.next(f));
    EXPECT_TRUE(codec.partial());
    codec.feed(std::string("\x05{}{}", 5));
    EXPECT_FALSE(codec.next(f));
    EXPECT_EQ(codec.buffered(), 7u);
    codec.feed("x");
    ASSERT_TRUE(codec.next(f));
    EXPECT_EQ(f.payload, "{}{}x");
    EXPECT_FALSE(codec.partial());
}

TEST(FrameCodecTest, ReportsVersionAndTypeAsRead) {
    FrameCodec codec;
    codec.feed(std::string("\xbf\x00\x00", 3));  // version 2, type 63
    Frame f;
    ASSERT_TRUE(codec.next(f));
    EXPECT_EQ(f.version, 2);
    EXPECT_EQ(f.type, 63);
}

TEST(FrameCodecTest, RefusesPayloadsPast64KiB) {
    EXPECT_NO_THROW(FrameCodec::encode(FrameType::HIS, std::string(65535, 'h')));
    EXPECT_THROW(FrameCodec::encode(FrameType::HIS, std::string(65536, 'h')), std::length_error);
}
