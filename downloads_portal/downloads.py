"""Downloads through the portal: a POST names a file, and the browser is sent on to it.

The order page carries no file address: each Download button posts the file's id. The
answer sends the browser to the file while the order still has it, and drops the
order's cached copies, so the next view asks Fileflare and shows the new count.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, redirect, render_template, request
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as BaseResponse

from .errors import render_error
from .security import valid_token
from .store import get_store
from .storefront import this_page

bp = Blueprint("downloads", __name__, url_prefix="/account/orders")

#: The last part of a file's address, after the order page's own.
SUFFIX = "/download"

#: The form field that names the file.
ASSET_FIELD = "asset"


def send(token: str) -> BaseResponse:
    """Send the browser to the file the form names, or say why not."""
    if not valid_token(token):
        raise NotFound()
    # Every page answering the form leads back to the order, "Try again" included.
    g.page_path = request.path.removesuffix(SUFFIX)
    view = get_store().get(token)
    asset = view.order.find_asset(request.form.get(ASSET_FIELD, ""))
    order_url = this_page()
    if asset is None or asset.url is None:
        return render_error(404, page="no-such-file", order_url=order_url)
    if asset.limits.used_up:
        return render_error(403, page="limit-reached", order_url=order_url)
    get_store().forget(token)
    if g.get("proxy") is not None:
        # Shopify may follow a redirect itself: a page of our own sends the browser.
        body = render_template(
            "sending.html",
            layout="proxy/standalone.html",
            file_url=asset.url,
            name=asset.filename,
            order_url=order_url,
        )
        return Response(body)
    return redirect(asset.url, code=303)


# No slash merging: its redirect would carry the token to another URL and log line.
@bp.post("/<token>" + SUFFIX, merge_slashes=False)
def download(token: str) -> BaseResponse:
    """Send the customer on to one of the order's files."""
    return send(token)
