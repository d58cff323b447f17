// The HTTP answer to an AccountError (see switchboard/Accounts.h), shared by every plugin that
// offers account operations over HTTP.
#include "switchboard/Accounts.h"

#include "switchboard/Http.h"

namespace switchboard {

void AccountError::answer(HttpResponse& resp) const {
    int status = 500;
    switch (_code) {
        case Code::InvalidInput:
            status = 400;
            break;
        case Code::Duplicate:
            status = 409;
            break;
        case Code::NotFound:
            status = 404;
            break;
        case Code::ReadOnly:
            status = 403;
            break;
        case Code::Unavailable:
            resp.storeUnavailable(what());
            return;
    }
    resp.error(status, what());
}

}  // namespace switchboard
