// The staff login every staff page shares (the seat console, the gap tasks, the knowledge-base
// pages): the gateway keeps it in an HttpOnly cookie, so a page asks /api/me when it opens;
// the login form; 退出登录. Each page says what it shows after a login and what it clears
// when the login form is back. All data is inserted as text.

export const $ = (id) => document.getElementById(id);

export async function readJson(response) {
  try { return await response.json(); } catch { return {}; }
}

// A request to the gateway: {ok, status, body}; when it cannot be reached, body.error says so.
export async function request(path, { method = "GET", data } = {}) {
  let response;
  try {
    response = await fetch(path, method === "GET" ? {} : {
      method, headers: { "content-type": "application/json" }, body: JSON.stringify(data),
    });
  } catch {
    return { ok: false, status: 0, body: { error: "无法连接服务，请检查网络后重试" } };
  }
  return { ok: response.ok, status: response.status, body: await readJson(response) };
}

// The login form again, saying why (logged out, the login lost, refused); the name field
// focused, or the password when the name is still there.
export function showLoginForm(reason) {
  $("who").textContent = "";
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-reason").textContent = reason;
  $($("name").value ? "password" : "name").focus();
}

// Wire the login form and 退出登录, and open the page for the login the cookie carries:
// `enter(me)` after a login, `leave(reason)` when the login form is to be shown.
export async function staffLogin({ enter, leave }) {
  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    const { ok, body } = await request("/api/login", {
      method: "POST", data: { name: $("name").value, password: $("password").value },
    });
    if (!ok) { leave(body.error || "登录失败，请稍后再试"); return; }
    $("password").value = "";
    enter(body);
  });
  $("logout").addEventListener("click", async () => {
    await request("/api/logout", { method: "POST", data: {} });
    leave("已退出登录");
  });
  const { ok, body } = await request("/api/me");
  if (ok) enter(body);
  else leave(body.error && body.error !== "请先登录" ? body.error : "");
}
