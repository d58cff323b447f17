// The HTTP answer to an AccountError (see switchboard/Accounts.h), shared by every plugin that
// offers account operations over HTTP.
#include "switchboard/Accounts.h"

#include "switchboard/Http.h"

namespace switchboard {

void AccountError::answer(HttpResponse& resp) const {
    switch (_code) {
        case Code::InvalidInput:
            resp.error(400, what());
            return;
        case Code::Duplicate:
            resp.error(409, what());
            return;
        case Code::NotFound:
            resp.error(404, what());
            return;
        case Code::ReadOnly:
            resp.error(403, what());
            return;
        case Code::Unavailable:
            resp.storeUnavailable(what());
            return;
    }
    resp.error(500, what());
}

}  // namespace switchboard
